/** uPlot's built files, imported `with { type: "text" }` (dashboard.ts): their text. */
declare module "uplot/dist/uPlot.iife.min.js" {
  const text: string;
  export default text;
}
declare module "uplot/dist/uPlot.min.css" {
  const text: string;
  export default text;
}
