/** Load history (docs/history.md): what is kept, the file layout, and the pure consolidation core. */
export * from "./metrics.ts";
export * from "./layout.ts";
export { HistoryCore, half, memoryBytesPerHost, pendingRowsFor, type FileWriter, type SeriesRead } from "./series.ts";
