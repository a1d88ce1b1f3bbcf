/* train.c: the BPE trainer. Word counts in, the list of merges out.
 *
 * Byte-level BPE starts with the 256 byte values as symbols and repeatedly merges the most
 * frequent adjacent pair of symbols into a new symbol (merge k makes symbol 256 + k). Counting
 * every pair from scratch after each merge would be O(corpus) per merge; instead:
 *
 *   words    each distinct word once, as an int array of symbols, with its count;
 *   pairs    every pair ever seen: its count (weighted by word counts) and `where`, the ids of
 *            the words it occurs in (an index, so a merge only visits those words);
 *   heap     a max-heap of (count, pair); counts only go down for old pairs, so entries are
 *            allowed to go stale and are fixed when popped ("lazy invalidation");
 *   tokens   the bytes of every symbol, for the tie-break.
 *
 * One merge of the pair (A, B) into Z: 1. pop the best current pair from the heap; 2. rewrite
 * each word in its `where` list, replacing A B by Z and adjusting the counts of the neighbouring
 * pairs (x A -> x Z, B y -> Z y); 3. push the new pairs that contain Z. Only the words that
 * contain the pair are touched, so the whole run costs about O(corpus + changes).
 */
#include "fastbpe.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t left, right; /* the two symbols */
    int64_t count;       /* occurrences, each weighted by its word's count */
    int32_t *where;      /* words that contain (or once contained) the pair; may hold stale ids */
    size_t n_where, cap_where;
} Pair;

typedef struct {
    int64_t count; /* the pair's count when it was pushed */
    int32_t pair;
} HeapItem;

typedef struct {
    /* words: word w is syms[start[w] .. start[w] + len[w]) */
    int32_t *syms;
    size_t *start;
    int32_t *len;
    int64_t *count;
    int32_t *last_visit; /* the merge that last rewrote word w (so each is visited once a merge) */
    int32_t n_words;
    /* pairs, and an open-addressing index from (left << 32 | right) to the pair's id */
    Pair *pairs;
    size_t n_pairs, cap_pairs;
    uint64_t *index_keys; /* UINT64_MAX marks an empty slot */
    int32_t *index_ids;
    size_t index_slots;
    /* the pairs that gained occurrences during the current merge, to push afterwards */
    int32_t *touched_merge; /* per pair: the merge that last touched it */
    IntVec touched;
    /* heap */
    HeapItem *heap;
    size_t heap_len, heap_cap;
    /* tokens: symbol t is tok_bytes[tok_off[t] .. tok_off[t] + tok_len[t]) */
    unsigned char *tok_bytes;
    size_t tok_bytes_len, tok_bytes_cap;
    size_t *tok_off;
    size_t *tok_len;
    int32_t n_tokens;   /* symbols so far: 256 bytes, then one per merge that made a new token */
    BytesMap token_ids; /* token bytes -> symbol id, so a merge that spells an existing token reuses it */
    /* the id of each byte value and the byte of each id below 256 (a permutation) */
    int32_t id_of_byte[256];
    unsigned char byte_of_id[256];
} Trainer;

/* ---- the tie-break: the one rule that orders candidate merges --------------------------------- */

/* 1 when pair x (occurring count_x times) should be merged before pair y:
 *   1. the higher count wins;
 *   2. on equal counts, the smaller left symbol id wins, then the smaller right symbol id.
 * This is Hugging Face's BpeTrainer rule and the readable trainer's (train_bpe.py). The ids of
 * the 256 single bytes are chosen by the caller (`id_of_byte`, GPT-2 byte order there), so the
 * same rule gives the same merges as the readable path. */
static int merge_before(const Trainer *t, int64_t count_x, int32_t x, int64_t count_y, int32_t y) {
    if (count_x != count_y) return count_x > count_y;
    const Pair *px = &t->pairs[x], *py = &t->pairs[y];
    if (px->left != py->left) return px->left < py->left;
    return px->right < py->right;
}

/* ---- the max-heap ------------------------------------------------------------------------------ */

static int heap_push(Trainer *t, int64_t count, int32_t pair) {
    HeapItem *heap = fb_grow(t->heap, &t->heap_cap, t->heap_len, 1, sizeof *heap);
    if (!heap) return -1;
    t->heap = heap;
    size_t i = t->heap_len++;
    while (i > 0) { /* sift up */
        HeapItem parent = heap[(i - 1) / 2];
        if (!merge_before(t, count, pair, parent.count, parent.pair)) break;
        heap[i] = parent;
        i = (i - 1) / 2;
    }
    heap[i] = (HeapItem){count, pair};
    return 0;
}

static HeapItem heap_pop(Trainer *t) {
    HeapItem *heap = t->heap, top = heap[0], last = heap[--t->heap_len];
    size_t i = 0, n = t->heap_len;
    for (;;) { /* sift `last` down from the root */
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && merge_before(t, heap[c + 1].count, heap[c + 1].pair, heap[c].count, heap[c].pair)) c++;
        if (!merge_before(t, heap[c].count, heap[c].pair, last.count, last.pair)) break;
        heap[i] = heap[c];
        i = c;
    }
    if (n) heap[i] = last;
    return top;
}

/* ---- pairs ------------------------------------------------------------------------------------ */

static int index_grow(Trainer *t) {
    size_t slots = t->index_slots ? 2 * t->index_slots : 1024, mask = slots - 1;
    uint64_t *keys = malloc(slots * sizeof *keys);
    int32_t *ids = malloc(slots * sizeof *ids);
    if (!keys || !ids) {
        free(keys);
        free(ids);
        return -1;
    }
    memset(keys, 0xFF, slots * sizeof *keys); /* all UINT64_MAX: empty */
    for (size_t p = 0; p < t->n_pairs; p++) {
        uint64_t key = (uint64_t)(uint32_t)t->pairs[p].left << 32 | (uint32_t)t->pairs[p].right;
        size_t i = (key * 0x9E3779B97F4A7C15ull >> 20) & mask;
        while (keys[i] != UINT64_MAX) i = (i + 1) & mask;
        keys[i] = key;
        ids[i] = (int32_t)p;
    }
    free(t->index_keys);
    free(t->index_ids);
    t->index_keys = keys;
    t->index_ids = ids;
    t->index_slots = slots;
    return 0;
}

/* The id of pair (left, right), created with count 0 if new; -1 when memory ran out. */
static int32_t pair_id(Trainer *t, int32_t left, int32_t right) {
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    size_t mask = t->index_slots - 1, i = (key * 0x9E3779B97F4A7C15ull >> 20) & mask;
    while (t->index_keys[i] != UINT64_MAX) {
        if (t->index_keys[i] == key) return t->index_ids[i];
        i = (i + 1) & mask;
    }
    if (t->n_pairs >= INT32_MAX) return -1;
    if (t->n_pairs == t->cap_pairs) { /* grow `pairs` and its parallel array `touched_merge` */
        size_t cap = t->cap_pairs ? 2 * t->cap_pairs : 1024;
        Pair *pairs = realloc(t->pairs, cap * sizeof *pairs);
        if (!pairs) return -1;
        t->pairs = pairs;
        int32_t *touched_merge = realloc(t->touched_merge, cap * sizeof *touched_merge);
        if (!touched_merge) return -1;
        t->touched_merge = touched_merge;
        t->cap_pairs = cap;
    }
    int32_t id = (int32_t)t->n_pairs++;
    t->pairs[id] = (Pair){left, right, 0, NULL, 0, 0};
    t->touched_merge[id] = -1;
    t->index_keys[i] = key;
    t->index_ids[i] = id;
    if (2 * t->n_pairs > t->index_slots && index_grow(t) < 0) return -1;
    return id;
}

/* Add `delta` occurrences of (left, right). A gain also records `word` in the pair's `where`
 * list and marks the pair as touched by merge `merge`, to be pushed onto the heap after it. */
static int pair_add(Trainer *t, int32_t left, int32_t right, int64_t delta, int32_t word, int32_t merge) {
    int32_t id = pair_id(t, left, right);
    if (id < 0) return -1;
    Pair *p = &t->pairs[id];
    p->count += delta;
    if (delta <= 0) return 0;
    if (p->n_where == 0 || p->where[p->n_where - 1] != word) { /* words are visited one at a time */
        int32_t *where = fb_grow(p->where, &p->cap_where, p->n_where, 1, sizeof *where);
        if (!where) return -1;
        p->where = where;
        p->where[p->n_where++] = word;
    }
    if (t->touched_merge[id] != merge) {
        t->touched_merge[id] = merge;
        if (iv_push(&t->touched, id) < 0) return -1;
    }
    return 0;
}

/* ---- one merge --------------------------------------------------------------------------------- */

/* Replace every non-overlapping A B in word w (left to right) by Z and update the pair counts.
 * The word is rewritten in place: `out` never passes `i`. */
static int merge_word(Trainer *t, int32_t w, int32_t A, int32_t B, int32_t Z, int32_t merge) {
    int32_t *s = t->syms + t->start[w];
    int32_t n = t->len[w], out = 0, i = 0;
    int64_t c = t->count[w];
    while (i < n) {
        if (i + 1 < n && s[i] == A && s[i + 1] == B) {
            if (pair_add(t, A, B, -c, w, merge) < 0) return -1;
            if (out > 0) { /* x A B -> x Z (x is the already rewritten left neighbour, maybe a Z) */
                if (pair_add(t, s[out - 1], A, -c, w, merge) < 0 || pair_add(t, s[out - 1], Z, c, w, merge) < 0)
                    return -1;
            }
            if (i + 2 < n) { /* A B y -> Z y */
                if (pair_add(t, B, s[i + 2], -c, w, merge) < 0 || pair_add(t, Z, s[i + 2], c, w, merge) < 0)
                    return -1;
            }
            s[out++] = Z;
            i += 2;
        } else {
            s[out++] = s[i++];
        }
    }
    t->len[w] = out;
    return 0;
}

/* ---- setup and the main loop ------------------------------------------------------------------ */

static void trainer_free(Trainer *t) {
    free(t->syms);
    free(t->start);
    free(t->len);
    free(t->count);
    free(t->last_visit);
    for (size_t p = 0; p < t->n_pairs; p++) free(t->pairs[p].where);
    free(t->pairs);
    free(t->index_keys);
    free(t->index_ids);
    free(t->touched_merge);
    iv_free(&t->touched);
    free(t->heap);
    free(t->tok_bytes);
    free(t->tok_off);
    free(t->tok_len);
    bm_free(&t->token_ids);
}

/* Words of two or more bytes become int arrays; single bytes can never take part in a merge. */
static int load_words(Trainer *t, const BytesMap *words, size_t *total_syms) {
    size_t n_syms = 0, n_words = 0;
    for (size_t k = 0; k < words->n_entries; k++)
        if (words->entries[k].len >= 2 && words->entries[k].value > 0) n_words++, n_syms += words->entries[k].len;
    *total_syms = n_syms;
    if (n_words > INT32_MAX) return -1;
    t->syms = malloc((n_syms ? n_syms : 1) * sizeof *t->syms);
    t->start = malloc((n_words ? n_words : 1) * sizeof *t->start);
    t->len = malloc((n_words ? n_words : 1) * sizeof *t->len);
    t->count = malloc((n_words ? n_words : 1) * sizeof *t->count);
    t->last_visit = malloc((n_words ? n_words : 1) * sizeof *t->last_visit);
    if (!t->syms || !t->start || !t->len || !t->count || !t->last_visit) return -1;
    size_t pos = 0;
    for (size_t k = 0; k < words->n_entries; k++) {
        const BMEntry *e = &words->entries[k];
        if (e->len < 2 || e->value <= 0) continue;
        int32_t w = t->n_words++;
        const unsigned char *bytes = bm_key(words, e);
        t->start[w] = pos;
        t->len[w] = (int32_t)e->len;
        t->count[w] = e->value;
        t->last_visit[w] = -1;
        for (uint32_t j = 0; j < e->len; j++) t->syms[pos++] = t->id_of_byte[bytes[j]];
    }
    return 0;
}

/* Symbol `id` is the concatenation of `left` and `right` (or, below 256, the byte `byte_of_id[id]`). */
static int add_token(Trainer *t, int32_t id, int32_t left, int32_t right) {
    size_t len = id < 256 ? 1 : t->tok_len[left] + t->tok_len[right];
    unsigned char *bytes = fb_grow(t->tok_bytes, &t->tok_bytes_cap, t->tok_bytes_len, len, 1);
    if (!bytes) return -1;
    t->tok_bytes = bytes;
    if (id < 256) {
        bytes[t->tok_bytes_len] = t->byte_of_id[id];
    } else {
        memcpy(bytes + t->tok_bytes_len, bytes + t->tok_off[left], t->tok_len[left]);
        memcpy(bytes + t->tok_bytes_len + t->tok_len[left], bytes + t->tok_off[right], t->tok_len[right]);
    }
    t->tok_off[id] = t->tok_bytes_len;
    t->tok_len[id] = len;
    t->tok_bytes_len += len;
    BMEntry *e = bm_upsert(&t->token_ids, t->tok_bytes + t->tok_off[id], len);
    if (!e) return -1;
    e->value = id;
    return 0;
}

/* The symbol for A B: the existing token with those bytes, else a new one (-1: out of memory).
 * subtle: two different pairs can spell the same bytes ("a"+"aa" and "aa"+"a"); like the readable
 * trainer and Hugging Face's, the token keeps its first id and the later merge reuses it. */
static int32_t symbol_for(Trainer *t, int32_t A, int32_t B) {
    size_t la = t->tok_len[A], lb = t->tok_len[B];
    unsigned char stack[256], *buf = la + lb <= sizeof stack ? stack : malloc(la + lb);
    if (!buf) return -1;
    memcpy(buf, t->tok_bytes + t->tok_off[A], la);
    memcpy(buf + la, t->tok_bytes + t->tok_off[B], lb);
    BMEntry *e = bm_find(&t->token_ids, buf, la + lb);
    int32_t Z = e ? (int32_t)e->value : t->n_tokens;
    if (buf != stack) free(buf);
    if (!e && add_token(t, t->n_tokens++, A, B) < 0) return -1;
    return Z;
}

static int train(Trainer *t, const BytesMap *words, int32_t num_merges, int64_t min_frequency, IntVec *merges) {
    int64_t min_count = min_frequency > 1 ? min_frequency : 1;
    /* 1. the words, the 256 byte tokens, and every pair in the words with its `where` list */
    size_t n_syms;
    if (load_words(t, words, &n_syms) < 0 || index_grow(t) < 0) return -1;
    if ((size_t)num_merges > n_syms) num_merges = (int32_t)n_syms; /* each merge removes a symbol */
    t->tok_off = malloc(((size_t)num_merges + 256) * sizeof *t->tok_off);
    t->tok_len = malloc(((size_t)num_merges + 256) * sizeof *t->tok_len);
    if (!t->tok_off || !t->tok_len || bm_init(&t->token_ids, (size_t)num_merges + 256) < 0) return -1;
    for (int32_t b = 0; b < 256; b++)
        if (add_token(t, b, 0, 0) < 0) return -1;
    t->n_tokens = 256;
    for (int32_t w = 0; w < t->n_words; w++) {
        const int32_t *s = t->syms + t->start[w];
        for (int32_t i = 0; i + 1 < t->len[w]; i++)
            if (pair_add(t, s[i], s[i + 1], t->count[w], w, -1) < 0) return -1;
    }
    /* 2. the heap holds every pair once */
    for (size_t p = 0; p < t->n_pairs; p++)
        if (heap_push(t, t->pairs[p].count, (int32_t)p) < 0) return -1;
    for (int32_t merge = 0; t->n_tokens < 256 + num_merges; merge++) {
        /* 3. pop until an entry is current; a stale one goes back with its current count */
        int32_t best = -1;
        while (t->heap_len) {
            HeapItem top = heap_pop(t);
            int64_t now = t->pairs[top.pair].count;
            if (now == top.count) {
                best = top.pair;
                break;
            }
            if (now > 0 && heap_push(t, now, top.pair) < 0) return -1;
        }
        if (best < 0 || t->pairs[best].count < min_count) break; /* nothing frequent enough */
        /* 4. the symbol Z = A B (new, or the existing token with the same bytes) */
        int32_t A = t->pairs[best].left, B = t->pairs[best].right, Z = symbol_for(t, A, B);
        if (Z < 0 || iv_push(merges, A) < 0 || iv_push(merges, B) < 0) return -1;
        /* 5. rewrite the words that contain A B. subtle: merge_word may grow t->pairs, so the
         *    `where` list is taken out of the pair first and read through a local pointer. */
        int32_t *where = t->pairs[best].where;
        size_t n_where = t->pairs[best].n_where;
        t->pairs[best].where = NULL;
        t->pairs[best].n_where = t->pairs[best].cap_where = 0;
        t->touched.len = 0;
        int rc = 0;
        for (size_t k = 0; k < n_where && rc == 0; k++) {
            int32_t w = where[k];
            if (t->last_visit[w] == merge) continue;
            t->last_visit[w] = merge;
            rc = merge_word(t, w, A, B, Z, merge);
        }
        free(where);
        if (rc < 0) return -1;
        /* 6. the pairs that contain Z are new: push them with their final counts */
        for (size_t k = 0; k < t->touched.len; k++) {
            int32_t p = t->touched.data[k];
            if (t->pairs[p].count > 0 && heap_push(t, t->pairs[p].count, p) < 0) return -1;
        }
    }
    return 0;
}

int fb_train(const BytesMap *words, int32_t num_merges, int64_t min_frequency, const unsigned char *byte_order,
             IntVec *merges) {
    Trainer t;
    memset(&t, 0, sizeof t);
    for (int i = 0; i < 256; i++) { /* byte_order[i] is the byte whose id is i; NULL: id = byte */
        unsigned char b = byte_order ? byte_order[i] : (unsigned char)i;
        t.byte_of_id[i] = b;
        t.id_of_byte[b] = i;
    }
    int rc = train(&t, words, num_merges, min_frequency, merges);
    trainer_free(&t);
    return rc < 0 ? FB_NOMEM : FB_OK;
}
