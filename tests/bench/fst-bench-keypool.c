/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key pool benchmark: how long a take from a ready pool waits, against
 * generating the key on the spot, for RSA-2048 (the slow key the pool is
 * for). The pool is worth having only if a ready take is far faster than a
 * generation: the run fails when it is not at least 10 times faster, or when
 * a ready take needs 50 ms or more.
 */

#define G_LOG_DOMAIN "FstBenchKeyPool"

#include <stdio.h>
#include <stdlib.h>

#include "fst-crypto.h"
#include "fst-keypool.h"
#include "fst-openssl-common.h"

#define FST_BENCH_ROUNDS 8

static int
fst_bench_cmp(const void *a, const void *b)
{
	gint64 x = *(const gint64 *)a;
	gint64 y = *(const gint64 *)b;
	return x < y ? -1 : x > y ? 1 : 0;
}

int
main(void)
{
	g_autoptr(FstKeyPool) pool = fst_key_pool_new(FST_KEY_TYPE_RSA_2048, 1);
	gint64 take[FST_BENCH_ROUNDS];
	gint64 gen[FST_BENCH_ROUNDS];
	gint64 take_med, gen_med;

	for (guint i = 0; i < FST_BENCH_ROUNDS; i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(EVP_PKEY) a = NULL;
		g_autoptr(EVP_PKEY) b = NULL;
		gint64 start;

		if (!fst_key_pool_wait_ready(pool, FST_KEY_TYPE_RSA_2048, 1, 60000)) {
			g_printerr("the pool did not fill in 60 s\n");
			return 1;
		}
		start = g_get_monotonic_time();
		a = fst_key_pool_take(pool, FST_KEY_TYPE_RSA_2048, NULL, &error);
		take[i] = g_get_monotonic_time() - start;
		start = g_get_monotonic_time();
		b = a != NULL ? fst_crypto_generate_key(FST_KEY_TYPE_RSA_2048, &error) : NULL;
		gen[i] = g_get_monotonic_time() - start;
		if (b == NULL) {
			g_printerr("%s\n", error->message);
			return 1;
		}
	}
	qsort(take, FST_BENCH_ROUNDS, sizeof(take[0]), fst_bench_cmp);
	qsort(gen, FST_BENCH_ROUNDS, sizeof(gen[0]), fst_bench_cmp);
	take_med = take[FST_BENCH_ROUNDS / 2];
	gen_med = gen[FST_BENCH_ROUNDS / 2];
	printf("RSA-2048, median of %d     microseconds\n", FST_BENCH_ROUNDS);
	printf("take from a ready pool   %10" G_GINT64_FORMAT "  (max %" G_GINT64_FORMAT ")\n",
	       take_med,
	       take[FST_BENCH_ROUNDS - 1]);
	printf("generate on the spot     %10" G_GINT64_FORMAT "\n", gen_med);
	if (take_med >= 50000 || take_med * 10 > gen_med) {
		printf("FAIL: a ready take should be under 50 ms and 10x faster than generating\n");
		return 1;
	}
	return 0;
}
