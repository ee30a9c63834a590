export { MasterClient, MasterError, type MasterClientOptions } from "./client.ts";
export { connect, ctlArgs, type CtlContext } from "./args.ts";
export { print, printJson, setOutput, type Output } from "./output.ts";
export * from "./table.ts";
export { auditTable, hostsTable, loadTable, statusText, tokensTable } from "./views.ts";
