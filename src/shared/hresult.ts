/**
 * The HRESULT table: every code bitsd can return or record, with its numeric value and a
 * description text (what IBackgroundCopyManager::GetErrorDescription returns on Windows).
 *
 * Values come from bitsmsg.h / winerror.h as listed in shared/docs/bits-protocol.md §10 and
 * bits-api.md (c). The description texts are our own wording of the Windows message strings.
 * Pure data and lookups: no I/O.
 */

interface CodeInfo {
  readonly value: number;
  readonly description: string;
}

const table = {
  S_OK: { value: 0x00000000, description: 'The operation completed successfully.' },
  S_FALSE: { value: 0x00000001, description: 'The operation completed, but there was nothing to do.' },
  E_NOTIMPL: { value: 0x80004001, description: 'The method is not implemented.' },
  E_NOINTERFACE: { value: 0x80004002, description: 'The interface is not supported.' },
  E_ABORT: { value: 0x80004004, description: 'The operation was aborted.' },
  E_FAIL: { value: 0x80004005, description: 'Unspecified error.' },
  E_ACCESSDENIED: { value: 0x80070005, description: 'Access is denied.' },
  E_OUTOFMEMORY: { value: 0x8007000e, description: 'Not enough memory resources are available to complete this operation.' },
  E_INVALIDARG: { value: 0x80070057, description: 'The parameter is incorrect.' },

  // Win32 errors as HRESULTs (HRESULT_FROM_WIN32), used for local file failures.
  ERROR_FILE_NOT_FOUND: { value: 0x80070002, description: 'The system cannot find the file specified.' },
  ERROR_PATH_NOT_FOUND: { value: 0x80070003, description: 'The system cannot find the path specified.' },
  ERROR_TOO_MANY_OPEN_FILES: { value: 0x80070004, description: 'The system cannot open the file (too many open files).' },
  ERROR_WRITE_PROTECT: { value: 0x80070013, description: 'The media is write protected.' },
  ERROR_SHARING_VIOLATION: { value: 0x80070020, description: 'The process cannot access the file because it is being used by another process.' },
  ERROR_HANDLE_DISK_FULL: { value: 0x80070027, description: 'The disk is full.' },
  ERROR_FILE_EXISTS: { value: 0x80070050, description: 'The file exists.' },
  ERROR_DISK_FULL: { value: 0x80070070, description: 'There is not enough space on the disk.' },
  ERROR_INVALID_NAME: { value: 0x8007007b, description: 'The filename, directory name, or volume label syntax is incorrect.' },
  ERROR_ALREADY_EXISTS: { value: 0x800700b7, description: 'Cannot create a file when that file already exists.' },
  ERROR_FILENAME_EXCED_RANGE: { value: 0x800700ce, description: 'The filename or extension is too long.' },
  ERROR_DIRECTORY: { value: 0x8007010b, description: 'The directory name is invalid.' },
  ERROR_RESOURCE_LANG_NOT_FOUND: { value: 0x80070717, description: 'The specified resource language ID cannot be found in the image file.' },

  // WinHTTP errors as HRESULTs: what Windows BITS records for transport failures.
  ERROR_WINHTTP_TIMEOUT: { value: 0x80072ee2, description: 'The operation timed out.' },
  ERROR_WINHTTP_NAME_NOT_RESOLVED: { value: 0x80072ee7, description: 'The server name or address could not be resolved.' },
  ERROR_WINHTTP_CANNOT_CONNECT: { value: 0x80072efd, description: 'A connection with the server could not be established.' },
  ERROR_WINHTTP_CONNECTION_ERROR: { value: 0x80072efe, description: 'The connection with the server was terminated abnormally.' },
  ERROR_WINHTTP_SECURE_CERT_DATE_INVALID: { value: 0x80072f05, description: 'The date in the certificate is invalid or has expired.' },
  ERROR_WINHTTP_SECURE_CERT_CN_INVALID: { value: 0x80072f06, description: 'The host name in the certificate is invalid or does not match.' },
  ERROR_WINHTTP_SECURE_INVALID_CA: { value: 0x80072f0d, description: 'The certificate authority is invalid or incorrect.' },
  ERROR_WINHTTP_INVALID_SERVER_RESPONSE: { value: 0x80072f78, description: 'The server returned an invalid or unrecognized response.' },
  ERROR_WINHTTP_REDIRECT_FAILED: { value: 0x80072f7c, description: 'The HTTP redirect request failed.' },
  ERROR_WINHTTP_SECURE_FAILURE: { value: 0x80072f8f, description: 'A security error occurred.' },
  ERROR_WINHTTP_HEADER_SIZE_OVERFLOW: { value: 0x80072f96, description: 'The size of the headers received exceeds the limit for the request.' },

  BG_E_NOT_FOUND: { value: 0x80200001, description: 'The requested job was not found.' },
  BG_E_INVALID_STATE: { value: 0x80200002, description: 'The requested action is not allowed in the current job state. The job might have been canceled or completed transferring. It is in a read-only state now.' },
  BG_E_EMPTY: { value: 0x80200003, description: 'There are currently no files attached to this job.' },
  BG_E_FILE_NOT_AVAILABLE: { value: 0x80200004, description: 'No file is available because no URL generated an error.' },
  BG_E_PROTOCOL_NOT_AVAILABLE: { value: 0x80200005, description: 'No protocol is available because no URL generated an error.' },
  BG_S_ERROR_CONTEXT_NONE: { value: 0x00200006, description: 'No errors have occurred.' },
  BG_E_ERROR_CONTEXT_UNKNOWN: { value: 0x80200007, description: 'The error occurred in an unknown location.' },
  BG_E_ERROR_CONTEXT_GENERAL_QUEUE_MANAGER: { value: 0x80200008, description: 'The error occurred in the Background Intelligent Transfer Service (BITS) queue manager.' },
  BG_E_ERROR_CONTEXT_LOCAL_FILE: { value: 0x80200009, description: 'The error occurred while the local file was being processed. Verify that the file is not in use, and then try again.' },
  BG_E_ERROR_CONTEXT_REMOTE_FILE: { value: 0x8020000a, description: 'The error occurred while the remote file was being processed.' },
  BG_E_ERROR_CONTEXT_GENERAL_TRANSPORT: { value: 0x8020000b, description: 'The error occurred in the transport layer. The client could not connect to the server.' },
  BG_E_ERROR_CONTEXT_QUEUE_MANAGER_NOTIFICATION: { value: 0x8020000c, description: 'The error occurred while the notification callback was being processed.' },
  BG_E_DESTINATION_LOCKED: { value: 0x8020000d, description: 'The destination file system volume is not available.' },
  BG_E_VOLUME_CHANGED: { value: 0x8020000e, description: 'The destination volume has changed.' },
  BG_E_ERROR_INFORMATION_UNAVAILABLE: { value: 0x8020000f, description: 'No errors have occurred.' },
  BG_E_NETWORK_DISCONNECTED: { value: 0x80200010, description: 'There are currently no active network connections.' },
  BG_E_MISSING_FILE_SIZE: { value: 0x80200011, description: 'The server did not return the file size. The URL might point to dynamic content. The Content-Length header is not available in the server\'s HTTP reply.' },
  BG_E_INSUFFICIENT_HTTP_SUPPORT: { value: 0x80200012, description: 'The server does not support HTTP 1.1.' },
  BG_E_INSUFFICIENT_RANGE_SUPPORT: { value: 0x80200013, description: 'The server does not support the necessary HTTP protocol. Background Intelligent Transfer Service (BITS) requires that the server support the Range protocol header.' },
  BG_E_REMOTE_NOT_SUPPORTED: { value: 0x80200014, description: 'BITS cannot be used remotely.' },
  BG_E_NEW_OWNER_DIFF_MAPPING: { value: 0x80200015, description: 'The drive mapping for the job is different for the current owner than for the previous owner.' },
  BG_E_NEW_OWNER_NO_FILE_ACCESS: { value: 0x80200016, description: 'The new owner has insufficient access to the local files for the job.' },
  BG_S_PARTIAL_COMPLETE: { value: 0x00200017, description: 'Some of the transferred files were deleted because they were incomplete.' },
  BG_E_PROXY_LIST_TOO_LARGE: { value: 0x80200018, description: 'The HTTP proxy list cannot be longer than 32,000 characters. Try again with a shorter proxy list.' },
  BG_E_PROXY_BYPASS_LIST_TOO_LARGE: { value: 0x80200019, description: 'The HTTP proxy bypass list cannot be longer than 32,000 characters. Try again with a shorter bypass proxy list.' },
  BG_S_UNABLE_TO_DELETE_FILES: { value: 0x0020001a, description: 'Some of the temporary files could not be deleted.' },
  BG_E_INVALID_SERVER_RESPONSE: { value: 0x8020001b, description: 'The server\'s response was not valid. The server was not following the defined protocol.' },
  BG_E_TOO_MANY_FILES: { value: 0x8020001c, description: 'No more files can be added to this job.' },
  BG_E_LOCAL_FILE_CHANGED: { value: 0x8020001d, description: 'The local file was changed during the transfer. Resume the job.' },
  BG_E_ERROR_CONTEXT_REMOTE_APPLICATION: { value: 0x8020001e, description: 'The error was reported by the remote server application.' },
  BG_E_SESSION_NOT_FOUND: { value: 0x8020001f, description: 'The session could not be found on the server.' },
  BG_E_TOO_LARGE: { value: 0x80200020, description: 'The job is too large for the server to accept. This job might exceed a job size limit set by the server administrator.' },
  BG_E_STRING_TOO_LONG: { value: 0x80200021, description: 'The specified string is too long.' },
  BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH: { value: 0x80200022, description: 'The client and server versions of BITS are not compatible.' },
  BG_E_SERVER_EXECUTE_ENABLE: { value: 0x80200023, description: 'Scripting or execute permissions are enabled on the IIS virtual directory associated with the job. To upload files to the virtual directory, disable the scripting and execute permissions on the virtual directory.' },
  BG_E_NO_PROGRESS: { value: 0x80200024, description: 'The job is not making headway. The server may be misconfigured.' },
  BG_E_USERNAME_TOO_LARGE: { value: 0x80200025, description: 'The user name cannot be longer than 300 characters. Try again with a shorter name.' },
  BG_E_PASSWORD_TOO_LARGE: { value: 0x80200026, description: 'The password cannot be longer than 65,536 characters. Try again with a shorter password.' },
  BG_E_INVALID_AUTH_TARGET: { value: 0x80200027, description: 'The authentication target specified in the credentials is not defined.' },
  BG_E_INVALID_AUTH_SCHEME: { value: 0x80200028, description: 'The authentication scheme specified in the credentials is not defined.' },
  BG_E_FILE_NOT_FOUND: { value: 0x80200029, description: 'The specified file name does not match any of the files in the job.' },
  BG_S_PROXY_CHANGED: { value: 0x0020002a, description: 'The proxy server was changed.' },
  BG_E_INVALID_RANGE: { value: 0x8020002b, description: 'The requested byte range extends beyond the end of the web page. Use byte ranges that are wholly within the page.' },
  BG_E_OVERLAPPING_RANGES: { value: 0x8020002c, description: 'The list of byte ranges contains some overlapping ranges, which are not supported.' },
  BG_E_CONNECT_FAILURE: { value: 0x8020002d, description: 'A connection could not be established.' },
  BG_E_CONNECTION_CLOSED: { value: 0x8020002e, description: 'The connection was closed prematurely.' },
  BG_E_TIMEOUT: { value: 0x8020003b, description: 'The operation timed out.' },
  BG_E_BLOCKED_BY_POLICY: { value: 0x8020003e, description: 'Group Policy settings prevent background jobs from running at this time.' },
  BG_E_INVALID_PROXY_INFO: { value: 0x8020003f, description: 'The format of the supplied proxy is invalid.' },
  BG_E_INVALID_CREDENTIALS: { value: 0x80200040, description: 'The format of the supplied credentials is invalid.' },
  BG_E_TOO_MANY_JOBS_PER_USER: { value: 0x80200049, description: 'The job count for this user has exceeded the per-user job limit.' },
  BG_E_TOO_MANY_JOBS_PER_MACHINE: { value: 0x80200050, description: 'The job count for the computer has exceeded the per-computer job limit.' },
  BG_E_TOO_MANY_FILES_IN_JOB: { value: 0x80200051, description: 'The file count for this job has exceeded the per-job file limit.' },
  BG_E_TOO_MANY_RANGES_IN_FILE: { value: 0x80200052, description: 'The range count for this file has exceeded the per-file range limit.' },
  BG_E_VALIDATION_FAILED: { value: 0x80200053, description: 'The application requested data validation and the data was not valid.' },
  BG_E_MAXDOWNLOAD_TIMEOUT: { value: 0x80200054, description: 'The job was not completed within its maximum download time.' },
  BG_E_UNKNOWN_PROPERTY_ID: { value: 0x80200057, description: 'The property ID is not known.' },
  BG_E_READ_ONLY_PROPERTY: { value: 0x80200058, description: 'The property is read-only.' },
  BG_E_BLOCKED_BY_COST_TRANSFER_POLICY: { value: 0x80200059, description: 'The job is blocked by the transfer policy of its cost flags.' },
  BG_E_PROPERTY_SUPPORTED_FOR_DOWNLOAD_JOBS_ONLY: { value: 0x80200060, description: 'The property is supported for download jobs only.' },
  BG_E_READ_ONLY_PROPERTY_AFTER_ADDFILE: { value: 0x80200061, description: 'The property cannot be changed after a file has been added to the job.' },
  BG_E_READ_ONLY_PROPERTY_AFTER_RESUME: { value: 0x80200062, description: 'The property cannot be changed after the job has been resumed.' },
  BG_E_MAX_DOWNLOAD_SIZE_INVALID_VALUE: { value: 0x80200063, description: 'The maximum download size must be greater than zero.' },
  BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED: { value: 0x80200064, description: 'The download reached the maximum download size set for the job.' },
  BG_E_USE_STORED_CREDENTIALS_NOT_SUPPORTED: { value: 0x80200066, description: 'Stored credentials are supported for the proxy target only.' },
  BG_E_BLOCKED_BY_BATTERY_POLICY: { value: 0x80200067, description: 'The job is paused because the computer runs on battery; it resumes on mains power.' },
  BG_E_BLOCKED_BY_BATTERY_SAVER: { value: 0x80200068, description: 'The job is blocked by battery saver.' },
  BG_E_RANDOM_ACCESS_NOT_SUPPORTED: { value: 0x8020006d, description: 'Random access is not supported for this file.' },
  BG_E_BLOCKED_BY_GAME_MODE: { value: 0x8020006f, description: 'The job is blocked while game mode is on.' },
  BG_E_BLOCKED_BY_SYSTEM_POLICY: { value: 0x80200070, description: 'The job is blocked by system policy.' },
  BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD: { value: 0x80200071, description: 'This operation is not supported for jobs with a custom HTTP method.' },
  BG_E_REMOTE_FILE_CHANGED: { value: 0x80200073, description: 'The remote file changed during the transfer.' },
} as const satisfies Record<string, CodeInfo>;

/** HTTP statuses for which bitsmsg.h defines BG_E_HTTP_ERROR_nnn. */
const HTTP_STATUS_TEXT: Readonly<Record<number, string>> = {
  100: 'The request can be continued.',
  101: 'The server switched protocols in an upgrade header.',
  200: 'The server\'s response was not valid. The server was not following the defined protocol.',
  201: 'The request was fulfilled and resulted in the creation of a new resource.',
  202: 'The request was accepted for processing, but the processing has not been completed yet.',
  203: 'The returned metadata in the entity-header is not the definitive set available from the server of origin.',
  204: 'The server has fulfilled the request, but there is no new information to send back.',
  205: 'The server has fulfilled the request, and the client should reset the document view that caused the request to be sent.',
  206: 'The server has fulfilled the partial GET request for the resource.',
  300: 'The server could not return the requested data.',
  301: 'The requested resource was assigned to a new permanent Uniform Resource Identifier (URI), and any future references to this resource should use one of the returned URIs.',
  302: 'The requested resource was assigned a different Uniform Resource Identifier (URI). This change is temporary.',
  303: 'The response to the request is under a different Uniform Resource Identifier (URI) and must be retrieved using a GET method on that resource.',
  304: 'The server\'s response was not valid. The server was not following the defined protocol.',
  305: 'The requested resource must be accessed through the proxy given by the location field.',
  307: 'The URL has been temporarily relocated. Try again later.',
  400: 'The server cannot process the request because the syntax is not valid.',
  401: 'The requested resource requires user authentication.',
  402: 'The server\'s response was not valid. The server was not following the defined protocol.',
  403: 'The client does not have sufficient access rights to the requested server object.',
  404: 'The requested URL does not exist on the server.',
  405: 'The method used is not allowed.',
  406: 'No responses acceptable to the client were found.',
  407: 'Proxy authentication is required.',
  408: 'The server timed out waiting for the request.',
  409: 'The request could not be completed because of a conflict with the current state of the resource. The user should resubmit the request with more information.',
  410: 'The requested resource is not currently available at the server, and no forwarding address is known.',
  411: 'The server cannot accept the request without a defined content length.',
  412: 'The precondition given in one or more of the request header fields evaluated to false when it was tested on the server.',
  413: 'The server cannot process the request because the request entity is too large.',
  414: 'The server cannot process the request because the request Uniform Resource Identifier (URI) is longer than the server can interpret.',
  415: 'The server cannot process the request because the request is in a format not supported by the requested resource.',
  416: 'The server could not satisfy the range request.',
  417: 'The server could not meet the expectation given in an Expect request-header field.',
  449: 'The server\'s response was not valid. The server was not following the defined protocol.',
  500: 'An unexpected condition prevented the server from fulfilling the request.',
  501: 'The server does not support the functionality required to fulfill the request.',
  502: 'The server, while acting as a gateway or proxy to fulfill the request, received a response from an upstream server that was not valid.',
  503: 'The service is temporarily overloaded.',
  504: 'The request was timed out waiting for a gateway.',
  505: 'The server does not support the HTTP protocol version that was used in the request message.',
};

export type NamedCode = keyof typeof table;
/** A symbolic HRESULT name: one from the table, or BG_E_HTTP_ERROR_nnn for any HTTP status. */
export type HresultCode = NamedCode | `BG_E_HTTP_ERROR_${number}`;

export const HRESULTS: Readonly<Record<NamedCode, CodeInfo>> = table;

const HTTP_ERROR_BASE = 0x80190000;

/** BG_E_HTTP_ERROR_nnn = 0x80190000 + status. */
export function httpErrorHresult(status: number): number {
  return (HTTP_ERROR_BASE + status) >>> 0;
}

export function httpErrorCode(status: number): HresultCode {
  return `BG_E_HTTP_ERROR_${status}`;
}

const byValue = new Map<number, NamedCode>();
for (const [name, info] of Object.entries(table)) {
  // First name wins for values that have two spellings (none today, but keep it deterministic).
  if (!byValue.has(info.value)) byValue.set(info.value, name as NamedCode);
}

export function hresultOf(code: HresultCode): number {
  const http = /^BG_E_HTTP_ERROR_(\d{3})$/.exec(code);
  if (http) return httpErrorHresult(Number(http[1]));
  return table[code as NamedCode].value;
}

/** The symbolic name of a numeric HRESULT, or undefined when bitsd does not know it. */
export function codeOf(hresult: number): HresultCode | undefined {
  const value = hresult >>> 0;
  const named = byValue.get(value);
  if (named) return named;
  if (value >= HTTP_ERROR_BASE && value <= HTTP_ERROR_BASE + 599) {
    return httpErrorCode(value - HTTP_ERROR_BASE);
  }
  return undefined;
}

/**
 * The description text of an HRESULT (IBackgroundCopyManager::GetErrorDescription). Unknown values
 * get a generic text that still names the value, so callers always have something to print.
 */
export function describeHresult(hresult: number): string {
  const value = hresult >>> 0;
  const named = byValue.get(value);
  if (named) return table[named].description;
  if (value >= HTTP_ERROR_BASE && value <= HTTP_ERROR_BASE + 599) {
    const status = value - HTTP_ERROR_BASE;
    return HTTP_STATUS_TEXT[status] ?? `The server answered with HTTP status ${status}.`;
  }
  return `Unknown error ${formatHresult(value)}.`;
}

export function isSuccess(hresult: number): boolean {
  return (hresult >>> 0) < 0x80000000;
}

/** 0x80200002 style, as bitsadmin prints it. */
export function formatHresult(hresult: number): string {
  return `0x${(hresult >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * Parses an HRESULT as servers write it: "0x8020001F", "x80070057", "8020001f", "0X1".
 * Returns undefined for anything that is not 1-8 hex digits (never throws).
 */
export function parseHresult(text: string): number | undefined {
  const m = /^\s*(?:0?[xX])?([0-9a-fA-F]{1,8})\s*$/.exec(text);
  if (!m || m[1] === undefined) return undefined;
  return Number.parseInt(m[1], 16) >>> 0;
}

/** BG_ERROR_CONTEXT, by BITS's names. */
export const ERROR_CONTEXTS = {
  NONE: 0,
  UNKNOWN: 1,
  GENERAL_QUEUE_MANAGER: 2,
  QUEUE_MANAGER_NOTIFICATION: 3,
  LOCAL_FILE: 4,
  REMOTE_FILE: 5,
  GENERAL_TRANSPORT: 6,
  REMOTE_APPLICATION: 7,
  SERVER_CERTIFICATE_CALLBACK: 8,
} as const;
export type ErrorContext = keyof typeof ERROR_CONTEXTS;

const CONTEXT_DESCRIPTIONS: Readonly<Record<ErrorContext, NamedCode>> = {
  NONE: 'BG_S_ERROR_CONTEXT_NONE',
  UNKNOWN: 'BG_E_ERROR_CONTEXT_UNKNOWN',
  GENERAL_QUEUE_MANAGER: 'BG_E_ERROR_CONTEXT_GENERAL_QUEUE_MANAGER',
  QUEUE_MANAGER_NOTIFICATION: 'BG_E_ERROR_CONTEXT_QUEUE_MANAGER_NOTIFICATION',
  LOCAL_FILE: 'BG_E_ERROR_CONTEXT_LOCAL_FILE',
  REMOTE_FILE: 'BG_E_ERROR_CONTEXT_REMOTE_FILE',
  GENERAL_TRANSPORT: 'BG_E_ERROR_CONTEXT_GENERAL_TRANSPORT',
  REMOTE_APPLICATION: 'BG_E_ERROR_CONTEXT_REMOTE_APPLICATION',
  SERVER_CERTIFICATE_CALLBACK: 'BG_E_ERROR_CONTEXT_UNKNOWN',
};

/** IBackgroundCopyError::GetErrorContextDescription. */
export function describeContext(context: ErrorContext): string {
  if (context === 'SERVER_CERTIFICATE_CALLBACK') {
    return 'The error occurred in the server certificate validation callback.';
  }
  return table[CONTEXT_DESCRIPTIONS[context]].description;
}

export function contextFromValue(value: number): ErrorContext | undefined {
  for (const [name, v] of Object.entries(ERROR_CONTEXTS)) {
    if (v === value) return name as ErrorContext;
  }
  return undefined;
}
