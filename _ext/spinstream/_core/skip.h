/* Skip one JSON array or object: the index just past it, or -1 (scan.pyx `_skip_container`).
 *
 * Brackets are counted, not matched by kind; strings are skipped with their escapes; a control
 * byte inside a string is an error. With SSE2 (every x86-64) 16 bytes are classified at a time:
 * the quotes' prefix XOR marks the bytes inside strings, and a block whose closing brackets
 * cannot bring the depth to zero is passed with two popcounts. A block holding a backslash,
 * and the tail, take the byte-at-a-time walk, which is also the whole walk elsewhere (aarch64).
 * The twin (spinstream/_core/_py/scan.py) gives the same answers.
 */
#ifndef SPINSTREAM_SKIP_H
#define SPINSTREAM_SKIP_H

#include <stddef.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Bits set in a 16-bit mask (no popcnt instruction in the x86-64 baseline: gcc would call
 * libgcc's __popcountdi2). */
static inline int ss_pop16(unsigned x) {
    x = x - ((x >> 1) & 0x5555u);
    x = (x & 0x3333u) + ((x >> 2) & 0x3333u);
    x = (x + (x >> 4)) & 0x0F0Fu;
    return (int)((x + (x >> 8)) & 0x1Fu);
}

/* Index of the closing quote of a string whose bytes start at I, or -1. */
static inline ptrdiff_t ss_string_end(const char* s, ptrdiff_t i, ptrdiff_t n) {
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') return i;
        if (c == '\\') { i += 2; continue; }
        if (c < 32) return -1;
        i++;
    }
    return -1;
}

/* The byte-at-a-time walk from I at DEPTH, inside a string when INSTR. */
static ptrdiff_t ss_skip_scalar(const char* s, ptrdiff_t i, ptrdiff_t n, ptrdiff_t depth,
                                int instr) {
    if (instr) {
        i = ss_string_end(s, i, n);
        if (i < 0) return -1;
        i++;
    }
    while (i < n) {
        char c = s[i];
        if (c == '"') {
            i = ss_string_end(s, i + 1, n);
            if (i < 0) return -1;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            if (--depth == 0) return i + 1;
        }
        i++;
    }
    return -1;
}

/* Skip the array or object that opens at I (s[i] is '[' or '{'). */
static ptrdiff_t ss_skip(const char* s, ptrdiff_t i, ptrdiff_t n) {
    ptrdiff_t depth = 0;
    int instr = 0;
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
    const __m128i open1 = _mm_set1_epi8('['), open2 = _mm_set1_epi8('{');
    const __m128i close1 = _mm_set1_epi8(']'), close2 = _mm_set1_epi8('}');
    const __m128i ctl = _mm_set1_epi8(0x1f);
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i*)(s + i));
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(v, backslash))) break;
        unsigned x = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote));
        x ^= x << 1;
        x ^= x << 2;
        x ^= x << 4;
        x ^= x << 8;
        x &= 0xFFFFu;
        if (instr) x ^= 0xFFFFu;           /* bit j: byte j is inside a string (or opens one) */
        unsigned low = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl));
        if (low & x) return -1;            /* a control byte inside a string */
        unsigned op = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(v, open1), _mm_cmpeq_epi8(v, open2))) & ~x;
        unsigned cl = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(v, close1), _mm_cmpeq_epi8(v, close2))) & ~x;
        instr = (int)((x >> 15) & 1u);
        if (cl) {
            ptrdiff_t nc = ss_pop16(cl);
            if (depth <= nc) {             /* may reach zero here: its brackets in order */
                unsigned all = op | cl;
                while (all) {
                    int p = __builtin_ctz(all);
                    if ((op >> p) & 1u) {
                        depth++;
                    } else if (--depth == 0) {
                        return i + p + 1;
                    }
                    all &= all - 1;
                }
                i += 16;
                continue;
            }
            depth -= nc;
        }
        depth += ss_pop16(op);
        i += 16;
    }
#endif
    return ss_skip_scalar(s, i, n, depth, instr);
}

#endif
