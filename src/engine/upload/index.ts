/** The BITS upload engine (UPLOAD and UPLOAD_REPLY jobs). */
export { BitsUploadEngine } from './engine.js';
export { DEFAULT_FRAGMENT_SIZE, DEFAULT_MAX_FRAGMENT_SIZE, DEFAULT_MIN_FRAGMENT_SIZE, silentLogger, type UploadEngineOptions, type UploadLogger } from './options.js';
export { readUploadState, writeUploadState, type ReplyState, type UploadPhase, type UploadState } from './state.js';
