/**
 * The benchmark harness (SPEC §10) arrives with its own issue. Until then this says so and
 * exits 0, so `npm run bench` is never mistaken for a measurement.
 */
process.stdout.write('relayq bench: not yet — the benchmark harness (SPEC §10) is a later issue; nothing was measured.\n');
