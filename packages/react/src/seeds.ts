export * from './use-websocket.js';
export * from './use-realtime-analytics.js';
export * from './use-analytics-websocket.js';
export * from './use-realtime-metrics.js';
