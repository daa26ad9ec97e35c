import { main } from './main.js';

/**
 * A reader that went away (`fpmkit plan | head`) is not a failure: stop quietly with exit 0,
 * as the output it wanted was delivered. Other write errors are real and keep their trace.
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}
quietOnClosedPipe(process.stdout);
quietOnClosedPipe(process.stderr);

process.exitCode = await main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  isTTY: process.stdout.isTTY === true,
  env: process.env,
  ...(process.stdout.isTTY === true ? { columns: process.stdout.columns } : {}),
});
