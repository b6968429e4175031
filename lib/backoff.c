/* Full-jitter exponential backoff (the AWS SDKs' standard retry mode).
 *
 * Design notes
 * - Full jitter (a uniform draw between 0 and the ceiling) spreads the
 *   retries of many clients that failed together, which is what throttling
 *   needs; the ceiling doubles per retry up to a cap (20 s in the SDKs).
 * - The generator is a private xorshift64*: rand() is shared process state,
 *   and tests want a seed of their own. Retry timing needs no crypto. */
#include "backoff.h"

#include <time.h>
#include <unistd.h>

void backoff_init(struct backoff *b, unsigned base_ms, unsigned cap_ms, uint64_t seed)
{
	b->base_ms = base_ms ? base_ms : BACKOFF_BASE_MS_DEFAULT;
	b->cap_ms = cap_ms ? cap_ms : BACKOFF_CAP_MS_DEFAULT;
	if (b->cap_ms < b->base_ms)
		b->cap_ms = b->base_ms;
	if (seed == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ ((uint64_t)getpid() << 16);
	}
	/* splitmix64 of the seed: neighbouring seeds give unrelated streams */
	seed += 0x9e3779b97f4a7c15ULL;
	seed = (seed ^ (seed >> 30)) * 0xbf58476d1ce4e5b9ULL;
	seed = (seed ^ (seed >> 27)) * 0x94d049bb133111ebULL;
	seed ^= seed >> 31;
	b->rng = seed ? seed : 1;
}

unsigned backoff_ceiling_ms(const struct backoff *b, unsigned retry)
{
	uint64_t c = b->base_ms;

	/* Doubling stops at the cap, so a large retry number cannot overflow. */
	for (unsigned i = 0; i < retry && c < b->cap_ms; i++)
		c *= 2;
	return c < b->cap_ms ? (unsigned)c : b->cap_ms;
}

double backoff_random(struct backoff *b)
{
	b->rng ^= b->rng >> 12;
	b->rng ^= b->rng << 25;
	b->rng ^= b->rng >> 27;
	/* the top 53 bits of xorshift64*, as a double in [0, 1) */
	return (double)((b->rng * 0x2545f4914f6cdd1dULL) >> 11) * (1.0 / 9007199254740992.0);
}

unsigned backoff_delay_ms(struct backoff *b, unsigned retry)
{
	return (unsigned)(backoff_random(b) * ((double)backoff_ceiling_ms(b, retry) + 1.0));
}
