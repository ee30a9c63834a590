export { MasterClient, MasterError, type MasterClientOptions } from "./client.ts";
export { connect, ctlArgs, type CtlContext } from "./args.ts";
export { print, printJson, setOutput, type Output } from "./output.ts";
export * from "./table.ts";
export { auditTable, formatArgv, hostsTable, jobsTable, jobText, loadTable, statusText, tokensTable } from "./views.ts";
export { jobIds, jobsQuery, parseSize, submitRequest, waitOptions } from "./job-args.ts";
