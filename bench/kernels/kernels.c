/* kernels.c: the benchmark kernels (see kernels.h). Our own code; no libc. */
#include "kernels.h"

#ifdef __wasm__
#define BK_EXPORT(name) __attribute__((export_name(#name)))
#else
#define BK_EXPORT(name)
#endif

/* xorshift32: deterministic pseudo-random input, identical natively and in wasm. */
static uint32_t rng_next(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *s = x;
  return x;
}

static uint32_t fold64(uint64_t v) { return (uint32_t)v ^ (uint32_t)(v >> 32); }

static uint32_t double_bits(double d) {
  union {
    double d;
    uint64_t u;
  } u = {d};
  return fold64(u.u);
}

/* ---- recursion ---------------------------------------------------------------------- */

static uint32_t fib_rec(uint32_t n) { return n < 2 ? n : fib_rec(n - 1) + fib_rec(n - 2); }

BK_EXPORT(fib) uint32_t bk_fib(uint32_t reps) {
  uint32_t sum = 0;
  for (uint32_t r = 0; r < reps; r++)
    sum += fib_rec(24 - (r & 1)); /* varies, so nothing is hoisted */
  return sum;
}

/* ---- memory: sieve of Eratosthenes over a byte array -------------------------------- */

#define SIEVE_N (1u << 20)
static uint8_t sieve_buf[SIEVE_N + 1];

BK_EXPORT(sieve) uint32_t bk_sieve(uint32_t reps) {
  uint32_t total = 0;
  for (uint32_t r = 0; r < reps; r++) {
    uint32_t n = SIEVE_N - r; /* varies per repetition */
    for (uint32_t i = 0; i <= n; i++)
      sieve_buf[i] = 1;
    uint32_t count = 0;
    for (uint32_t i = 2; i <= n; i++) {
      if (!sieve_buf[i])
        continue;
      count++;
      for (uint32_t j = i * 2; j <= n; j += i)
        sieve_buf[j] = 0;
    }
    total = total * 31 + count;
  }
  return total;
}

/* ---- integer: CRC-32 (reflected, 0xEDB88320) and FNV-1a over 64 KiB ------------------ */

#define CRC_LEN 65536u
static uint32_t crc_table[256];
static uint8_t crc_data[CRC_LEN];

BK_EXPORT(crc32) uint32_t bk_crc32(uint32_t reps) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
  uint32_t seed = 0x12345678u;
  for (uint32_t i = 0; i < CRC_LEN; i++)
    crc_data[i] = (uint8_t)rng_next(&seed);
  uint32_t mix = 0;
  for (uint32_t r = 0; r < reps; r++) {
    crc_data[r % CRC_LEN] ^= (uint8_t)r;
    uint32_t crc = 0xffffffffu, fnv = 0x811c9dc5u;
    for (uint32_t i = 0; i < CRC_LEN; i++) {
      crc = crc_table[(crc ^ crc_data[i]) & 0xff] ^ (crc >> 8);
      fnv = (fnv ^ crc_data[i]) * 0x01000193u;
    }
    mix = mix * 33 + (~crc ^ fnv);
  }
  return mix;
}

/* ---- floating point: n-body (5 bodies, symplectic Euler) ---------------------------- */

typedef struct body {
  double x, y, z, vx, vy, vz, m;
} body;

static double fsqrt(double v) { return __builtin_sqrt(v); }

static void nbody_init(body *b) {
  /* Sun and four planets; units: AU, years/365.24, solar masses * 4 pi^2. */
  static const double init[5][7] = {
      {0, 0, 0, 0, 0, 0, 1},
      {4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
       1.66007664274403694e-03, 7.69901118419740425e-03, -6.90460016972063023e-05,
       9.54791938424326609e-04},
      {8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
       -2.76742510726862411e-03, 4.99852801234917238e-03, 2.30417297573763929e-05,
       2.85885980666130812e-04},
      {1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
       2.96460137564761618e-03, 2.37847173959480950e-03, -2.96589568540237556e-05,
       4.36624404335156298e-05},
      {1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
       2.68067772490389322e-03, 1.62824170038242295e-03, -9.51592254519715870e-05,
       5.15138902046611451e-05}};
  const double pi = 3.141592653589793, days = 365.24, solar = 4 * pi * pi;
  double px = 0, py = 0, pz = 0;
  for (int i = 0; i < 5; i++) {
    b[i].x = init[i][0];
    b[i].y = init[i][1];
    b[i].z = init[i][2];
    b[i].vx = init[i][3] * days;
    b[i].vy = init[i][4] * days;
    b[i].vz = init[i][5] * days;
    b[i].m = init[i][6] * solar;
    px += b[i].vx * b[i].m;
    py += b[i].vy * b[i].m;
    pz += b[i].vz * b[i].m;
  }
  b[0].vx = -px / solar;
  b[0].vy = -py / solar;
  b[0].vz = -pz / solar;
}

static void nbody_step(body *b, double dt) {
  for (int i = 0; i < 5; i++)
    for (int j = i + 1; j < 5; j++) {
      double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
      double d2 = dx * dx + dy * dy + dz * dz;
      double mag = dt / (d2 * fsqrt(d2));
      b[i].vx -= dx * b[j].m * mag;
      b[i].vy -= dy * b[j].m * mag;
      b[i].vz -= dz * b[j].m * mag;
      b[j].vx += dx * b[i].m * mag;
      b[j].vy += dy * b[i].m * mag;
      b[j].vz += dz * b[i].m * mag;
    }
  for (int i = 0; i < 5; i++) {
    b[i].x += dt * b[i].vx;
    b[i].y += dt * b[i].vy;
    b[i].z += dt * b[i].vz;
  }
}

static double nbody_energy(const body *b) {
  double e = 0;
  for (int i = 0; i < 5; i++) {
    e += 0.5 * b[i].m * (b[i].vx * b[i].vx + b[i].vy * b[i].vy + b[i].vz * b[i].vz);
    for (int j = i + 1; j < 5; j++) {
      double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
      e -= b[i].m * b[j].m / fsqrt(dx * dx + dy * dy + dz * dz);
    }
  }
  return e;
}

BK_EXPORT(nbody) uint32_t bk_nbody(uint32_t reps) {
  body b[5];
  nbody_init(b);
  uint32_t mix = double_bits(nbody_energy(b));
  for (uint32_t r = 0; r < reps; r++) {
    for (int s = 0; s < 1000; s++)
      nbody_step(b, 0.01);
    mix = mix * 31 + double_bits(nbody_energy(b));
  }
  return mix;
}

/* ---- floating point: matrix multiply -------------------------------------------------- */

#define MM_N 48
static double mm_a[MM_N][MM_N], mm_b[MM_N][MM_N], mm_c[MM_N][MM_N];

BK_EXPORT(matmul) uint32_t bk_matmul(uint32_t reps) {
  for (int i = 0; i < MM_N; i++)
    for (int j = 0; j < MM_N; j++) {
      mm_a[i][j] = (double)(i * MM_N + j) / (MM_N * MM_N) - 0.5;
      mm_b[i][j] = (double)((i + 7) * (j + 3) % 17) / 16.0;
    }
  uint32_t mix = 0;
  for (uint32_t r = 0; r < reps; r++) {
    for (int i = 0; i < MM_N; i++)
      for (int j = 0; j < MM_N; j++) {
        double s = 0;
        for (int k = 0; k < MM_N; k++)
          s += mm_a[i][k] * mm_b[k][j];
        mm_c[i][j] = s;
      }
    double trace = 0;
    for (int i = 0; i < MM_N; i++) {
      trace += mm_c[i][i];
      mm_a[i][(i + r) % MM_N] += 1.0 / 1024; /* next repetition differs */
    }
    mix = mix * 31 + double_bits(trace);
  }
  return mix;
}

/* ---- branches: quicksort ------------------------------------------------------------- */

#define SORT_N 32768
static uint32_t sort_buf[SORT_N];

static void insertion_sort(uint32_t *a, int32_t lo, int32_t hi) {
  for (int32_t i = lo + 1; i <= hi; i++) {
    uint32_t v = a[i];
    int32_t j = i - 1;
    while (j >= lo && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

static void quicksort(uint32_t *a, int32_t lo, int32_t hi) {
  while (hi - lo > 16) {
    int32_t mid = lo + (hi - lo) / 2;
    uint32_t x = a[lo], y = a[mid], z = a[hi];
    uint32_t pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
    int32_t i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot)
        i++;
      while (a[j] > pivot)
        j--;
      if (i <= j) {
        uint32_t t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    /* Recurse into the smaller half, loop on the larger: bounded depth. */
    if (j - lo < hi - i) {
      quicksort(a, lo, j);
      lo = i;
    } else {
      quicksort(a, i, hi);
      hi = j;
    }
  }
  insertion_sort(a, lo, hi);
}

BK_EXPORT(sort) uint32_t bk_sort(uint32_t reps) {
  uint32_t mix = 0;
  for (uint32_t r = 0; r < reps; r++) {
    uint32_t seed = 0x9e3779b9u + r;
    for (int i = 0; i < SORT_N; i++)
      sort_buf[i] = rng_next(&seed) % 1000003u;
    quicksort(sort_buf, 0, SORT_N - 1);
    uint32_t sum = 0;
    for (int i = 0; i < SORT_N; i++) {
      if (i && sort_buf[i - 1] > sort_buf[i])
        return 0; /* not sorted: a checksum no correct run returns */
      sum += sort_buf[i] * (uint32_t)(i + 1);
    }
    mix = mix * 31 + sum;
  }
  return mix;
}

/* ---- byte parsing: LEB128 varints ------------------------------------------------------ */

#define VARINT_COUNT 20000
static uint8_t varint_buf[VARINT_COUNT * 10];

BK_EXPORT(varint) uint32_t bk_varint(uint32_t reps) {
  uint32_t mix = 0;
  for (uint32_t r = 0; r < reps; r++) {
    uint32_t seed = 0xabcdef01u + r;
    uint32_t len = 0;
    for (int i = 0; i < VARINT_COUNT; i++) {
      /* One call per statement: the order of calls within an expression is unspecified. */
      uint64_t hi = rng_next(&seed);
      uint64_t lo = rng_next(&seed);
      uint64_t v = (hi << 32 | lo) >> (rng_next(&seed) % 64);
      do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        varint_buf[len++] = byte | (v ? 0x80 : 0);
      } while (v);
    }
    uint64_t sum = 0;
    uint32_t pos = 0, count = 0;
    while (pos < len) {
      uint64_t v = 0;
      uint32_t shift = 0;
      uint8_t byte;
      do {
        byte = varint_buf[pos++];
        v |= (uint64_t)(byte & 0x7f) << shift;
        shift += 7;
      } while ((byte & 0x80) && pos < len && shift < 64);
      sum += v ^ (sum >> 3);
      count++;
    }
    mix = mix * 31 + fold64(sum) + count;
  }
  return mix;
}

/* ---- byte parsing: a JSON-ish tokenizer (a state machine over characters) -------------- */

#define JSON_LEN 100000
static char json_buf[JSON_LEN];
static uint32_t json_len;

static void json_put(const char *s) {
  while (*s && json_len < JSON_LEN - 1)
    json_buf[json_len++] = *s++;
}

static void json_put_uint(uint32_t v) {
  char d[10];
  int n = 0;
  do {
    d[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n && json_len < JSON_LEN - 1)
    json_buf[json_len++] = d[--n];
}

/* Builds a deterministic document of nested objects, arrays, strings and numbers. */
static void json_generate(void) {
  uint32_t seed = 0x2545f491u;
  json_len = 0;
  json_put("[");
  while (json_len < JSON_LEN - 200) {
    json_put("{\"id\": ");
    json_put_uint(rng_next(&seed) % 100000);
    json_put(", \"name\": \"item\\\"");
    json_put_uint(rng_next(&seed) % 1000);
    json_put("\", \"tags\": [true, false, null, -");
    json_put_uint(rng_next(&seed) % 5000);
    json_put(".25e1], \"nested\": {\"x\": ");
    json_put_uint(rng_next(&seed));
    json_put("}},\n");
  }
  json_put("0]");
  json_buf[json_len] = 0;
}

BK_EXPORT(json) uint32_t bk_json(uint32_t reps) {
  json_generate();
  uint32_t mix = 0;
  for (uint32_t r = 0; r < reps; r++) {
    uint32_t objects = 0, arrays = 0, strings = 0, numbers = 0, words = 0, depth = 0;
    uint32_t max_depth = 0, numsum = r;
    for (uint32_t i = 0; i < json_len;) {
      char c = json_buf[i];
      switch (c) {
      case '{': case '[':
        (c == '{') ? objects++ : arrays++;
        if (++depth > max_depth)
          max_depth = depth;
        i++;
        break;
      case '}': case ']':
        depth--;
        i++;
        break;
      case '"':
        i++;
        while (i < json_len && json_buf[i] != '"')
          i += json_buf[i] == '\\' ? 2 : 1;
        i++;
        strings++;
        break;
      case '-': case '0': case '1': case '2': case '3': case '4':
      case '5': case '6': case '7': case '8': case '9': {
        uint32_t v = 0;
        if (c == '-')
          i++;
        while (i < json_len && json_buf[i] >= '0' && json_buf[i] <= '9')
          v = v * 10 + (uint32_t)(json_buf[i++] - '0');
        while (i < json_len && (json_buf[i] == '.' || json_buf[i] == 'e' ||
                                (json_buf[i] >= '0' && json_buf[i] <= '9')))
          i++;
        numsum = numsum * 7 + v;
        numbers++;
        break;
      }
      case 't': case 'f': case 'n':
        while (i < json_len && json_buf[i] >= 'a' && json_buf[i] <= 'z')
          i++;
        words++;
        break;
      default:
        i++;
        break;
      }
    }
    mix = mix * 31 + objects + arrays * 3 + strings * 5 + numbers * 7 + words * 11 +
          max_depth * 13 + numsum;
  }
  return mix;
}

/* ---- for the call benchmark ----------------------------------------------------------- */

BK_EXPORT(const42) uint32_t bk_const42(void) { return 42; }
BK_EXPORT(add) uint32_t bk_add(uint32_t a, uint32_t b) { return a + b; }
