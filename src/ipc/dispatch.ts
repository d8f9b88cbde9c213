/**
 * The server side of the method table: one handler per method, each mapping validated wire
 * parameters onto the in-process manager, job or file, and its result onto the wire form
 * (MethodResults). The compiler checks that every method has a handler with the right result.
 *
 * Values inside the parameters (a priority, a job type, a property name) are passed through as
 * received: the manager validates them and throws the same BitsError it throws in process.
 */
import type { BackgroundCopyManager } from '../api/manager.js';
import { BackgroundCopyJobImpl } from '../api/job.js';
import { BackgroundCopyFileImpl } from '../api/file.js';
import { normalizeJobId } from '../job/validate.js';
import type { AuthScheme, AuthTarget, JobPropertyName, JobType, Priority, ProxySettings } from '../job/types.js';
import type { PolicyReport } from '../policy/report.js';
import { BitsError } from '../shared/errors.js';
import type { EventName, MethodName, MethodResults, ParamsOf } from './methods.js';

/** What a connection offers the event methods. */
export interface StreamHost {
  subscribe(events: readonly EventName[], jobId: string | null): number;
  /** Registers a watch; it starts streaming once its response has been sent. */
  watch(jobId: string): number;
  unsubscribe(subscription: number): void;
}

/** What the daemon offers beyond the manager: its config (the daemon.* methods). */
export interface DaemonHooks {
  policy(): PolicyReport;
  /** Re-reads the config files; throws the BitsError of a bad file (nothing changes then). */
  reload(): Promise<PolicyReport>;
}

export interface DispatchContext {
  readonly manager: BackgroundCopyManager;
  readonly streams: StreamHost;
  /** null when the server runs without a daemon (in-process tests). */
  readonly daemon: DaemonHooks | null;
}

function daemon(ctx: DispatchContext): DaemonHooks {
  if (ctx.daemon === null) throw new BitsError('E_NOTIMPL', 'This IPC server has no daemon config to show or reload (it is not bitsd).');
  return ctx.daemon;
}

type Handlers = { readonly [M in MethodName]: (params: ParamsOf<M>, ctx: DispatchContext) => Promise<MethodResults[M]> | MethodResults[M] };

/**
 * A job object for any id in the store, like the in-process job objects a caller keeps: it goes
 * on answering after Complete or Cancel (getState() says ACKNOWLEDGED), and says BG_E_NOT_FOUND
 * once the job is gone. manager.getJob is stricter (live jobs only) and is what getJob uses.
 */
function job(ctx: DispatchContext, id: string): BackgroundCopyJobImpl {
  return new BackgroundCopyJobImpl(ctx.manager.queue, normalizeJobId(id));
}

function file(ctx: DispatchContext, p: { job: string; index: number }): BackgroundCopyFileImpl {
  return new BackgroundCopyFileImpl(ctx.manager.queue, normalizeJobId(p.job), p.index);
}

async function done(work: Promise<void>): Promise<null> {
  await work;
  return null;
}

export const HANDLERS: Handlers = {
  'manager.createJob': async (p, c) => ({ id: (await c.manager.createJob(p.displayName, p.type as JobType)).id }),
  'manager.getJob': async (p, c) => ({ id: (await c.manager.getJob(p.id)).id }),
  'manager.enumJobs': async (p, c) => (await c.manager.enumJobs(p.allUsers === undefined ? {} : { allUsers: p.allUsers })).map((j) => j.id),
  'manager.getErrorDescription': (p, c) => c.manager.getErrorDescription(p.hresult),
  'manager.listPendingCancellations': (_p, c) => c.manager.listPendingCancellations(),

  'job.getType': (p, c) => job(c, p.job).getType(),
  'job.getState': (p, c) => job(c, p.job).getState(),
  'job.getProgress': (p, c) => job(c, p.job).getProgress(),
  'job.getTimes': async (p, c) => {
    const t = await job(c, p.job).getTimes();
    return {
      creationTime: t.creationTime.getTime(),
      modificationTime: t.modificationTime.getTime(),
      transferCompletionTime: t.transferCompletionTime === null ? null : t.transferCompletionTime.getTime(),
    };
  },
  'job.getError': (p, c) => job(c, p.job).getError(),
  'job.getErrorCount': (p, c) => job(c, p.job).getErrorCount(),
  'job.getOwner': (p, c) => job(c, p.job).getOwner(),
  'job.addFile': (p, c) => done(job(c, p.job).addFile(p.remoteName, p.localName)),
  'job.addFileSet': (p, c) => done(job(c, p.job).addFileSet(p.files)),
  'job.addFileWithRanges': (p, c) => done(job(c, p.job).addFileWithRanges(p.remoteName, p.localName, p.ranges)),
  'job.enumFiles': async (p, c) => (await job(c, p.job).enumFiles()).map((f) => f.index),
  'job.replaceRemotePrefix': (p, c) => job(c, p.job).replaceRemotePrefix(p.oldPrefix, p.newPrefix),
  'job.resume': (p, c) => done(job(c, p.job).resume()),
  'job.suspend': (p, c) => done(job(c, p.job).suspend()),
  'job.cancel': (p, c) => job(c, p.job).cancel(),
  'job.complete': (p, c) => job(c, p.job).complete(),
  'job.getDisplayName': (p, c) => job(c, p.job).getDisplayName(),
  'job.setDisplayName': (p, c) => done(job(c, p.job).setDisplayName(p.name)),
  'job.getDescription': (p, c) => job(c, p.job).getDescription(),
  'job.setDescription': (p, c) => done(job(c, p.job).setDescription(p.text)),
  'job.getPriority': (p, c) => job(c, p.job).getPriority(),
  'job.setPriority': (p, c) => done(job(c, p.job).setPriority(p.priority as Priority)),
  'job.getNotifyFlags': (p, c) => job(c, p.job).getNotifyFlags(),
  'job.setNotifyFlags': (p, c) => done(job(c, p.job).setNotifyFlags(p.flags)),
  'job.getNotifyCmdLine': (p, c) => job(c, p.job).getNotifyCmdLine(),
  'job.setNotifyCmdLine': (p, c) => done(job(c, p.job).setNotifyCmdLine(p.program, p.parameters)),
  'job.getMinimumRetryDelay': (p, c) => job(c, p.job).getMinimumRetryDelay(),
  'job.setMinimumRetryDelay': (p, c) => done(job(c, p.job).setMinimumRetryDelay(p.seconds)),
  'job.getNoProgressTimeout': (p, c) => job(c, p.job).getNoProgressTimeout(),
  'job.setNoProgressTimeout': (p, c) => done(job(c, p.job).setNoProgressTimeout(p.seconds)),
  'job.getMaximumDownloadTime': (p, c) => job(c, p.job).getMaximumDownloadTime(),
  'job.setMaximumDownloadTime': (p, c) => done(job(c, p.job).setMaximumDownloadTime(p.seconds)),
  'job.getProxySettings': (p, c) => job(c, p.job).getProxySettings(),
  'job.setProxySettings': (p, c) => done(job(c, p.job).setProxySettings(p.usage as ProxySettings['usage'], p.proxyList ?? null, p.bypassList ?? null)),
  'job.setCredentials': (p, c) =>
    done(
      job(c, p.job).setCredentials({
        target: p.credentials.target as AuthTarget,
        scheme: p.credentials.scheme as AuthScheme,
        userName: p.credentials.userName,
        password: p.credentials.password,
      }),
    ),
  'job.removeCredentials': (p, c) => done(job(c, p.job).removeCredentials(p.target as AuthTarget, p.scheme as AuthScheme)),
  'job.getCustomHeaders': (p, c) => job(c, p.job).getCustomHeaders(),
  'job.setCustomHeaders': (p, c) => done(job(c, p.job).setCustomHeaders(p.headers)),
  'job.makeCustomHeadersWriteOnly': (p, c) => done(job(c, p.job).makeCustomHeadersWriteOnly()),
  'job.getSecurityFlags': (p, c) => job(c, p.job).getSecurityFlags(),
  'job.setSecurityFlags': (p, c) => done(job(c, p.job).setSecurityFlags(p.flags)),
  'job.getClientCertificate': (p, c) => job(c, p.job).getClientCertificate(),
  'job.setClientCertificate': (p, c) => done(job(c, p.job).setClientCertificate(p.certificate)),
  'job.removeClientCertificate': (p, c) => done(job(c, p.job).removeClientCertificate()),
  'job.getHttpMethod': (p, c) => job(c, p.job).getHttpMethod(),
  'job.setHttpMethod': (p, c) => done(job(c, p.job).setHttpMethod(p.method)),
  'job.getReplyFileName': (p, c) => job(c, p.job).getReplyFileName(),
  'job.setReplyFileName': (p, c) => done(job(c, p.job).setReplyFileName(p.path)),
  'job.getReplyProgress': (p, c) => job(c, p.job).getReplyProgress(),
  'job.getReplyData': async (p, c) => {
    const data = await job(c, p.job).getReplyData();
    return data === null ? null : data.toString('base64');
  },
  'job.getProperty': (p, c) => job(c, p.job).getProperty(p.name as JobPropertyName),
  'job.getTransferStatus': async (p, c) => {
    const status = await job(c, p.job).getTransferStatus();
    const w = status.waiting;
    return { ...status, waiting: w && { ...w, since: w.since?.toISOString() ?? null, until: w.until?.toISOString() ?? null } };
  },
  'job.setProperty': (p, c) => done(job(c, p.job).setProperty(p.name as JobPropertyName, p.value)),

  'file.getRemoteName': (p, c) => file(c, p).getRemoteName(),
  'file.getLocalName': (p, c) => file(c, p).getLocalName(),
  'file.getProgress': (p, c) => file(c, p).getProgress(),
  'file.getTemporaryName': (p, c) => file(c, p).getTemporaryName(),
  'file.getFileRanges': (p, c) => file(c, p).getFileRanges(),
  'file.setRemoteName': (p, c) => done(file(c, p).setRemoteName(p.url)),

  'events.subscribe': (p, c) => ({ subscription: c.streams.subscribe(p.events, p.job === undefined ? null : normalizeJobId(p.job)) }),
  'events.watch': (p, c) => ({ subscription: c.streams.watch(normalizeJobId(p.job)) }),
  'events.unsubscribe': (p, c) => {
    c.streams.unsubscribe(p.subscription);
    return null;
  },

  'daemon.policy': (_p, c) => daemon(c).policy(),
  'daemon.reload': (_p, c) => daemon(c).reload(),
};

/** Runs one validated request. */
export async function dispatch<M extends MethodName>(method: M, params: ParamsOf<M>, ctx: DispatchContext): Promise<MethodResults[M]> {
  const handler = HANDLERS[method] as (params: ParamsOf<M>, ctx: DispatchContext) => Promise<MethodResults[M]> | MethodResults[M];
  return handler(params, ctx);
}
