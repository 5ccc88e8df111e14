/**
 * A multipart/form-data body as one string, so that what AK/SK signing
 * hashes is byte for byte what is sent (APIG's async-import takes the
 * document as the file part `file_name`).
 */
import { randomBytes } from "node:crypto";

/** A body and the content type that names its boundary. */
export interface MultipartBody {
  contentType: string;
  body: string;
}

/** Field names and file names go inside quoted header parameters: no quotes, no line breaks. */
function quoted(s: string): string {
  return s.replace(/["\r\n\\]/g, "_");
}

/**
 * Encode text fields and one text file part.
 * @param random bytes source, for a boundary that occurs nowhere in the parts
 */
export function multipartBody(
  fields: Record<string, string>,
  file: { name: string; fileName: string; contentType: string; content: string },
  random: (n: number) => Buffer = randomBytes,
): MultipartBody {
  const all = Object.values(fields).join("\n") + file.content;
  let boundary: string;
  do boundary = `----taskwatch${random(12).toString("hex")}`;
  while (all.includes(boundary));
  const parts = Object.entries(fields).map(
    ([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(k)}"\r\n\r\n${v}\r\n`,
  );
  parts.push(
    `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(file.name)}"; filename="${quoted(file.fileName)}"\r\n` +
      `Content-Type: ${file.contentType}\r\n\r\n${file.content}\r\n`,
  );
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: `${parts.join("")}--${boundary}--\r\n` };
}
