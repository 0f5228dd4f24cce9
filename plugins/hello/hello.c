/*
 * hello: the smallest pluginop example plugin. Plain C, compiled by clang for wasm32 with
 * no libc (see cmake/PluginopWasm.cmake), loaded and called by the pluginop VM:
 *
 *   build/bin/pluginop-vm run build/wasm/hello.wasm fib 20
 *
 * Exports: add (i32 arithmetic), fib (recursion), count_primes (a sieve in linear
 * memory), greet (writes a string into memory and returns its address), checksum (reads
 * memory back).
 */
#include <stdint.h>

#define EXPORT(name) __attribute__((export_name(name)))

EXPORT("add") int32_t add(int32_t a, int32_t b) { return a + b; }

EXPORT("fib") int32_t fib(int32_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

/* The sieve lives in the module's linear memory (zero-initialised, as wasm memory is). */
#define SIEVE_MAX 100000
static uint8_t composite[SIEVE_MAX + 1];

/* Number of primes <= n (n is clamped to SIEVE_MAX). */
EXPORT("count_primes") int32_t count_primes(int32_t n) {
  if (n > SIEVE_MAX)
    n = SIEVE_MAX;
  for (int32_t i = 0; i <= n; i++)
    composite[i] = 0;
  int32_t count = 0;
  for (int32_t i = 2; i <= n; i++) {
    if (composite[i])
      continue;
    count++;
    for (int64_t j = (int64_t)i * i; j <= n; j += i)
      composite[j] = 1;
  }
  return count;
}

static char message[64];

/* Writes "Hello from wasm, plugin #<id>!" into memory; returns its address. The host
 * reads it back from the instance's memory. */
EXPORT("greet") int32_t greet(int32_t id) {
  static const char prefix[] = "Hello from wasm, plugin #";
  uint32_t len = 0, v = (uint32_t)id;
  for (const char *p = prefix; *p; p++)
    message[len++] = *p;
  char digits[10];
  int nd = 0;
  do {
    digits[nd++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (nd)
    message[len++] = digits[--nd];
  message[len++] = '!';
  message[len] = 0;
  return (int32_t)(uintptr_t)message;
}

/* Sum of the bytes of the NUL-terminated string at |addr| (0 if addr is out of range is
 * the VM's job: an out-of-bounds read traps instead). */
EXPORT("checksum") int32_t checksum(int32_t addr) {
  const uint8_t *p = (const uint8_t *)(uintptr_t)addr;
  int32_t sum = 0;
  while (*p)
    sum += *p++;
  return sum;
}
