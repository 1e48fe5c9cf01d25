/* eval/ngram_any.h: n-gram keys of any order. Orders that fit ngram.h's packed keys use them;
 * longer ones are interned (the n ids or code points as bytes) in a table the caller owns, so
 * keys stay exact whatever the order (sacreBLEU has no limit on --max-ngram-order or the
 * chrF orders). It must never compare keys of different orders: callers count each order
 * separately. */
#ifndef EF_EVAL_NGRAM_ANY_H
#define EF_EVAL_NGRAM_ANY_H

#include <stddef.h>
#include <stdint.h>

#include "eval/intern.h"
#include "eval/ngram.h"

/* Keys of the len-n+1 n-grams of seq (word ids when chars = 0, code points when 1) into keys
 * (room for len). Returns their number, or (size_t)-1 when out of memory. */
size_t ef_ngram_any(const uint32_t *seq, size_t len, int n, int chars, ef_intern *tab,
                    ef_ngram *keys);

#endif
