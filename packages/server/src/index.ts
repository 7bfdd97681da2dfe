export { startPulse, type PulseServer, type StartOptions } from './server.js';
export { loadConfig, type Config } from './config.js';
export { generateToken } from './auth/tokens.js';
export type { Store, EventSink, StoreItem, StoredEvent } from './ports.js';
export { openSqliteStore } from './store/sqlite.js';
export { openPostgresStore } from './store/postgres.js';
export { Hub } from './hub/hub.js';
