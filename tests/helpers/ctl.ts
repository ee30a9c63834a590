/** `lava …` run in-process through main(), with what it prints captured (stdout through setOutput, stderr through console.error). */
import { setOutput } from "../../src/ctl/output.ts";
import { main } from "../../src/main.ts";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runMain(argv: string[]): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const prevOut = setOutput({ write: (t) => void (stdout += typeof t === "string" ? t : new TextDecoder().decode(t)) });
  const prevErr = console.error;
  console.error = (...a: unknown[]) => void (stderr += a.map(String).join(" ") + "\n");
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    setOutput(prevOut);
    console.error = prevErr;
  }
}
