export { HttpDownloadEngine, type HttpDownloadEngineOptions, type DownloadRequest, type Downloader } from './http-download-engine.js';
export type { DownloadTarget } from './download-run.js';
