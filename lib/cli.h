/* What every tool's main() needs around its loop: whole-number options,
 * a monotonic clock, and the stop signals turned into a wake-up the loop's
 * poll() sees. */
#ifndef EP_CLI_H
#define EP_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* arg as a whole number from min to max, or a usage error (exit 64) that
 * names the option as given in opt ("--batch-size"). */
long cli_number(const char *opt, const char *arg, long min, long max);

/* Seconds, and milliseconds, on the monotonic clock (not wall time: an NTP
 * step must not stretch a linger or end a drain early). */
double cli_now_s(void);
long long cli_now_ms(void);

/* SIGTERM and SIGINT are counted and each writes a byte to a non-blocking
 * pipe, whose read end this returns for the loop to poll; no SA_RESTART, so
 * a blocking call returns EINTR. SIGPIPE is ignored: a closed pipe is seen
 * as EPIPE where it happens. Exits 71 when the pipe cannot be made. */
int cli_stop_signals(void);

/* Stop signals received so far: the first asks for a drain, a second for an
 * exit now. */
int cli_signals_received(void);

/* True once a second stop signal came: the operator wants out now, even
 * if that leaves output unwritten (what was not written out was not
 * acknowledged either, so the source sends it again). */
bool cli_stop_now(void);

/* For a tool that holds secrets (AWS keys, a SASL password): no core dump,
 * and no other process of the same user may ptrace it or read its
 * /proc/PID/mem or environ. Call once, early. */
void cli_hide_secrets(void);

/* The path of a data file the tools ship (the schema): beside the program
 * in the layout the build tree and an install share, <prefix>/bin/TOOL and
 * <prefix>/share/event-processor/NAME, else under EP_DATADIR. Written into
 * buf, which is returned. */
const char *cli_data_path(const char *name, char *buf, size_t size);

/* Empties the wake-up pipe (fd from cli_stop_signals) after poll() said so. */
void cli_wake_drain(int fd);

#endif
