// Twin of src/rng.ts: stateless counter-based randomness, draw = hash(hash(hash(seed) ^ stream) ^ counter).

// lowbias32 (C. Wellons); u32 multiplication wraps like Math.imul.
fn mix32(value: u32) -> u32 {
  var x = value;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

fn draw(seed: u32, stream: u32, counter: u32) -> u32 {
  return mix32(mix32(mix32(seed) ^ stream) ^ counter);
}

const STREAM_ROUTER_FIRST: u32 = 1u;
const STREAM_ROUTER_SECOND: u32 = 2u;
