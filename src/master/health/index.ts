export { HealthBook, healthView, worstStatus, type CheckStatus, type HostHealth } from "./book.ts";
