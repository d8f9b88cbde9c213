export { HttpDownloadEngine, type HttpDownloadEngineOptions, type DownloadRequest } from './http-download-engine.js';
export type { DownloadTarget } from './download-run.js';
