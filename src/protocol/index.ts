/** The pure BITS upload protocol layer: packet builders, Ack readers, the outcome table, range math. */
export * from './ack.js';
export * from './auth.js';
export * from './constants.js';
export * from './headers.js';
export * from './outcomes.js';
export * from './packets.js';
export * from './ranges.js';
export * from './retry-after.js';
