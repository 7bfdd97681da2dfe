/** Shared test helpers: real servers on port 0, condition waits, and message recorders. */
export * from './wait.js';
export * from './server.js';
export * from './ws.js';
export * from './sio.js';
export * from './http.js';
