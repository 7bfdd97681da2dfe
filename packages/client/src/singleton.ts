import { PulseClient, type PulseClientOptions } from './client.js';
import { BACKOFF_ADSTACK } from './backoff.js';

/**
 * Seed 000's `wsClient`: one shared client for the whole app.
 * @example
 * import { wsClient } from '@pulse/client';
 * wsClient.configure({ url: import.meta.env.VITE_WS_URL });
 * wsClient.connect('your-jwt-token');
 */
export interface SharedClient {
  /** The shared client; created on first use with the current options. */
  readonly client: PulseClient;
  /** Replaces the options; takes effect for the next client (call before `connect`). */
  configure(options: PulseClientOptions): void;
  connect(token?: string): PulseClient;
  disconnect(): void;
}

let options: PulseClientOptions = { backoff: BACKOFF_ADSTACK };
let instance: PulseClient | undefined;

export const wsClient: SharedClient = {
  get client(): PulseClient {
    instance ??= new PulseClient(options);
    return instance;
  },
  configure(next: PulseClientOptions): void {
    options = { backoff: BACKOFF_ADSTACK, ...next };
    if (instance) {
      instance.disconnect();
      instance = undefined;
    }
  },
  connect(token?: string): PulseClient {
    const c = this.client;
    c.connect(token);
    return c;
  },
  disconnect(): void {
    instance?.disconnect();
  },
};
