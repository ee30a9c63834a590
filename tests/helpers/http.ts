/** An answer's body as JSON when it is JSON, else as text (metrics, plain-text streams). */
export async function answerOf(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
