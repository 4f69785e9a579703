/** The code lines of a snippet or an example file: imports, comment lines and blank lines dropped, for comparing a doc's code block with the file it shows. */
export function codeLines(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => !line.startsWith('import ') && !line.startsWith('//'))
    .map((line) => line.trimEnd())
    .filter((line) => line !== '');
}
