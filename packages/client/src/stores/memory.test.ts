import { describeTokenStore } from '../testing/store-conformance.js';
import { MemoryTokenStore } from './memory.js';

describeTokenStore('MemoryTokenStore', async () => new MemoryTokenStore());
