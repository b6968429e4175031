/* Retry delays of the AWS SDKs' standard mode: "full jitter" exponential
 * backoff, delay = random(0,1) x min(base x 2^attempt, cap). */
#ifndef EP_BACKOFF_H
#define EP_BACKOFF_H

#include <stdint.h>

#define BACKOFF_BASE_MS_DEFAULT 100
#define BACKOFF_CAP_MS_DEFAULT 20000

struct backoff {
	unsigned base_ms;
	unsigned cap_ms;
	uint64_t rng; /* xorshift64* state, never 0 */
};

/* base_ms and cap_ms of 0 take the defaults. seed 0 seeds from the clock
 * and the process id (tests pass a fixed seed). */
void backoff_init(struct backoff *b, unsigned base_ms, unsigned cap_ms, uint64_t seed);

/* The ceiling of the delay before retry number `retry` (0 = the first
 * retry): min(base x 2^retry, cap), in milliseconds. */
unsigned backoff_ceiling_ms(const struct backoff *b, unsigned retry);

/* A delay drawn uniformly from [0, ceiling] for that retry. */
unsigned backoff_delay_ms(struct backoff *b, unsigned retry);

/* A uniform double in [0, 1), from the same generator. */
double backoff_random(struct backoff *b);

#endif
