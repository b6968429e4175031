/* See cli.h. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static volatile sig_atomic_t signals_received;
static int wake_pipe[2] = {-1, -1};

long cli_number(const char *opt, const char *arg, long min, long max)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(arg, &end, 10);
	if (errno || end == arg || *end || n < min || n > max)
		fatalx(EX_USAGE, "%s: '%s' is not a number from %ld to %ld", opt, arg, min, max);
	return n;
}

double cli_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

long long cli_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_stop_signal(int sig)
{
	int saved = errno;

	(void)sig;
	signals_received++;
	if (wake_pipe[1] >= 0 && write(wake_pipe[1], "", 1) < 0) {
		/* full pipe: the loop is awake already */
	}
	errno = saved;
}

int cli_stop_signals(void)
{
	struct sigaction sa = {.sa_handler = on_stop_signal}; /* no SA_RESTART */

	if (pipe(wake_pipe) < 0)
		fatal(EX_OSERR, "pipe");
	for (int i = 0; i < 2; i++) {
		fcntl(wake_pipe[i], F_SETFL, O_NONBLOCK);
		fcntl(wake_pipe[i], F_SETFD, FD_CLOEXEC);
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return wake_pipe[0];
}

int cli_signals_received(void)
{
	return signals_received;
}

bool cli_stop_now(void)
{
	return signals_received > 1;
}

void cli_hide_secrets(void)
{
	/* Failure leaves the process as it was (dumpable): nothing to recover,
	 * and not worth refusing to run over. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

void cli_wake_drain(int fd)
{
	char drain[64];

	while (read(fd, drain, sizeof(drain)) > 0)
		;
}

const char *cli_data_path(const char *name, char *buf, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(buf, size, "%s/../share/event-processor/%s", exe, name);
			if (access(buf, R_OK) == 0)
				return buf;
		}
	}
	snprintf(buf, size, "%s/%s", EP_DATADIR, name);
	return buf;
}
