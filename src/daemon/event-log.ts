/**
 * What the daemon logs about jobs: state changes at info, progress and property changes at debug,
 * errors at warn, notify-command results, and listener failures at error. It listens to the
 * queue's own events (every change, whatever the job's notify flags), not the callback events.
 */
import type { AllEvents } from '../job/events.js';
import type { QueueEmitter } from '../queue/events.js';
import type { Logger } from '../shared/logger.js';

type Payload<K extends keyof AllEvents> = AllEvents[K][0];

export function logQueueEvents(events: QueueEmitter, log: Logger): () => void {
  const change = (e: Payload<'change'>): void => {
    const fields = { job: e.jobId, name: e.displayName, type: e.type, state: e.state };
    if (e.kind === 'state') log.info('job state', fields);
    else log.debug(`job ${e.kind}`, fields);
  };
  const jobError = (e: Payload<'job:error'>): void => {
    log.warn('job error', { job: e.jobId, state: e.state, code: e.error.code, context: e.error.context, error: e.error.message });
  };
  const fileTransferred = (e: Payload<'file:transferred'>): void => {
    log.debug('file transferred', { job: e.jobId, file: e.fileIndex, localName: e.localName });
  };
  const notifyCommand = (e: Payload<'notify-command'>): void => {
    if (e.error !== null || e.exitCode !== 0) log.warn('notify command failed', { job: e.jobId, exitCode: e.exitCode, error: e.error });
    else log.info('notify command ran', { job: e.jobId, exitCode: e.exitCode });
  };
  const listenerError = (err: unknown): void => log.error('an event listener failed', { error: err });

  events.on('change', change);
  events.on('job:error', jobError);
  events.on('file:transferred', fileTransferred);
  events.on('notify-command', notifyCommand);
  events.on('listener-error', listenerError);
  return () => {
    events.off('change', change);
    events.off('job:error', jobError);
    events.off('file:transferred', fileTransferred);
    events.off('notify-command', notifyCommand);
    events.off('listener-error', listenerError);
  };
}
