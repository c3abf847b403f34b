// Reads the metadata key/values of a GGUF file (no tensors), for tests that need what a
// model file says independently of loom's own reader: e.g. the chat template and special
// tokens that llama.cpp's converter copied from a model's tokenizer_config.json.
import { openSync, readSync, closeSync, fstatSync } from "node:fs";

const kScalar = {
  0: [1, (b, o) => b.readUInt8(o)],
  1: [1, (b, o) => b.readInt8(o)],
  2: [2, (b, o) => b.readUInt16LE(o)],
  3: [2, (b, o) => b.readInt16LE(o)],
  4: [4, (b, o) => b.readUInt32LE(o)],
  5: [4, (b, o) => b.readInt32LE(o)],
  6: [4, (b, o) => b.readFloatLE(o)],
  7: [1, (b, o) => b.readUInt8(o) !== 0],
  10: [8, (b, o) => b.readBigUInt64LE(o)],
  11: [8, (b, o) => b.readBigInt64LE(o)],
  12: [8, (b, o) => b.readDoubleLE(o)],
};
const kString = 8;
const kArray = 9;

// Returns a Map from key to value (strings, numbers, bigints, booleans, arrays).
export function readGgufMetadata(path) {
  const fd = openSync(path, "r");
  const buffer = Buffer.alloc(fstatSync(fd).size);
  readSync(fd, buffer, 0, buffer.length, 0);
  closeSync(fd);
  let offset = 0;
  const take = (n) => {
    if (offset + n > buffer.length) throw new Error(`${path}: truncated GGUF metadata`);
    const at = offset;
    offset += n;
    return at;
  };
  const u64 = () => Number(buffer.readBigUInt64LE(take(8)));
  const string = () => {
    const n = u64();
    return buffer.toString("utf8", take(n), offset);
  };
  const value = (type) => {
    if (type === kString) return string();
    if (type === kArray) {
      const itemType = buffer.readUInt32LE(take(4));
      const n = u64();
      const items = new Array(n);
      for (let i = 0; i < n; ++i) items[i] = value(itemType);
      return items;
    }
    const scalar = kScalar[type];
    if (!scalar) throw new Error(`${path}: unknown GGUF value type ${type}`);
    return scalar[1](buffer, take(scalar[0]));
  };
  if (buffer.toString("latin1", take(4), offset) !== "GGUF") throw new Error(`${path}: not a GGUF file`);
  const version = buffer.readUInt32LE(take(4));
  if (version < 2) throw new Error(`${path}: GGUF version ${version} is not supported`);
  u64(); // tensor count
  const count = u64();
  const metadata = new Map();
  for (let i = 0; i < count; ++i) {
    const key = string();
    metadata.set(key, value(buffer.readUInt32LE(take(4))));
  }
  return metadata;
}
