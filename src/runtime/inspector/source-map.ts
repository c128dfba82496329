/**
 * Inspect mode: npm package code in the debugger as the package's own files. A package runs as one
 * esbuild bundle (bundle.ts); its source map stays on the host for stack traces, and in inspect
 * mode it also travels inline, as a `//# sourceMappingURL=data:` comment at the end of the bundle's
 * script. V8 reports it in Debugger.scriptParsed (`sourceMapURL`), and Chrome DevTools and VS Code
 * then show and break in the package's files (the map carries their text, `sourcesContent`).
 */
import type { SourceMapPayload } from 'node:module';
import { pathToFileURL } from 'node:url';

/**
 * `code` with `map` inline. `lineOffset`: lines the sandbox wrapper puts before the bundle (the map
 * is shifted by as many empty lines); `outDir`: the folder the map's relative `sources` start from
 * (esbuild's outfile folder), which becomes its file:// `sourceRoot`.
 */
export function withInlineSourceMap(
  code: string,
  map: SourceMapPayload,
  lineOffset: number,
  outDir: string,
): string {
  const inline = {
    ...map,
    sourceRoot: pathToFileURL(outDir).href.replace(/\/?$/, '/'),
    mappings: ';'.repeat(lineOffset) + map.mappings,
  };
  const data = Buffer.from(JSON.stringify(inline)).toString('base64');
  return `${code}\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,${data}\n`;
}
