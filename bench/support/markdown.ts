// The pieces BENCHMARKS.md is written with, shared by every benchmark's section.

/** A Markdown table: the header, its rule, one line per row. */
export function mdTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A section whose benchmark failed: its title and the error, verbatim. */
export function notCompleted(title: string, error: string | undefined): string {
  return `${title}\n\n**Did not complete:**\n\n\`\`\`\n${error}\n\`\`\``;
}
