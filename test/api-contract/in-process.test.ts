/**
 * The shared API suite against the in-process BackgroundCopyManager.
 */
import { join } from 'node:path';
import { BackgroundCopyManager } from '../../src/api/manager.js';
import { tempDir } from '../helpers/temp.js';
import { defineApiContract } from './contract.js';

defineApiContract('in-process BackgroundCopyManager', async () => {
  const manager = await BackgroundCopyManager.open({ dataDir: join(await tempDir(), 'data') });
  return { manager, close: () => manager.close() };
});
