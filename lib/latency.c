/* Log-linear latency histogram (the idea of HdrHistogram, in a page).
 *
 * Design notes
 * - Durations are bucketed by microseconds: values below LATENCY_SUB get a
 *   bucket each; above, each power of two is split into LATENCY_SUB equal
 *   buckets. Memory is fixed (2.5 KB) however long a daemon runs, and a
 *   quantile is one pass over the buckets.
 * - Quantiles report the middle of the bucket, so they are within about 3%
 *   of the true value: plenty for p50/p99 of request times. */
#include "latency.h"

#include <string.h>

void latency_reset(struct latency *l)
{
	memset(l, 0, sizeof(*l));
}

static unsigned bucket_of(uint64_t us)
{
	if (us < LATENCY_SUB)
		return (unsigned)us;
	unsigned e = 63 - (unsigned)__builtin_clzll(us); /* floor(log2(us)) >= 4 */
	unsigned sub = (unsigned)(us >> (e - 4)) & (LATENCY_SUB - 1);
	unsigned idx = (e - 3) * LATENCY_SUB + sub;
	return idx < LATENCY_BUCKETS ? idx : LATENCY_BUCKETS - 1;
}

/* The range [lo, hi) of microseconds a bucket covers. */
static void bucket_range(unsigned idx, double *lo, double *hi)
{
	if (idx < LATENCY_SUB) {
		*lo = idx;
		*hi = idx + 1;
		return;
	}
	unsigned e = idx / LATENCY_SUB + 3, sub = idx % LATENCY_SUB;
	double width = (double)(1ULL << (e - 4));
	*lo = (double)(1ULL << e) + sub * width;
	*hi = *lo + width;
}

void latency_add(struct latency *l, double seconds)
{
	if (!(seconds > 0))
		seconds = 0;
	double us = seconds * 1e6;
	uint64_t v = us >= 1.8e19 ? UINT64_MAX : (uint64_t)us;
	unsigned b = bucket_of(v);
	if (l->buckets[b] < UINT32_MAX)
		l->buckets[b]++;
	l->count++;
	l->sum += seconds;
	if (seconds > l->max)
		l->max = seconds;
}

double latency_quantile(const struct latency *l, double q)
{
	uint64_t total = 0, seen = 0;

	for (unsigned i = 0; i < LATENCY_BUCKETS; i++)
		total += l->buckets[i];
	if (total == 0)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	/* the rank of the quantile, 1-based: the smallest value with at
	 * least q of all values at or below it */
	uint64_t rank = (uint64_t)(q * (double)total + 0.999999);
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < LATENCY_BUCKETS; i++) {
		seen += l->buckets[i];
		if (seen >= rank) {
			double lo, hi;
			bucket_range(i, &lo, &hi);
			double mid = (lo + hi) / 2 / 1e6;
			return mid > l->max ? l->max : mid;
		}
	}
	return l->max;
}

double latency_mean(const struct latency *l)
{
	return l->count ? l->sum / (double)l->count : 0;
}
