export { PulseProvider, usePulseClient, type PulseProviderProps, type QueryInvalidator } from './context.js';
export { useConnection, useChannel, useMetrics, type ConnectionInfo, type UseChannelOptions, type ChannelResult, type MetricsResult } from './hooks.js';
export { useSeries, type UseSeriesOptions, type SeriesResult, type SeriesPoint } from './use-series.js';
export { ChannelStore, type ChannelSnapshot } from './channel-store.js';
export {
  useWebSocket,
  useRealTimeAnalytics,
  useAnalyticsWebSocket,
  useRealtimeMetrics,
  ChannelType,
  toContractEvent,
  toAnalyticsUpdate,
  toAnalyticsPayload,
  toRealtimeMetrics,
  type ContractEvent,
  type UseWebSocketOptions,
  type UseWebSocketResult,
  type AnalyticsUpdate,
  type UseRealTimeAnalyticsOptions,
  type UseRealTimeAnalyticsResult,
  type AnalyticsPayload,
  type UseAnalyticsWebSocketOptions,
  type UseAnalyticsWebSocketResult,
  type UseRealtimeMetricsResult,
} from './seeds.js';
export * from './components/index.js';
