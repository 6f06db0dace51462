// The custom op GPU contract's metadata (ember/Runtime/CustomOp.h): per
// tensor (inputs, then outputs) EMBER_GPU_META_WORDS = 18 int32 words:
// offset, rank, 8 sizes, 8 strides. Include after declaring `meta`.
const int kMetaWords = 18;

// Where element `i` (row-major over the tensor's sizes) of tensor `t` is,
// in elements from the start of its buffer.
int elementOffset(int t, uint i) {
  int base = t * kMetaWords;
  int offset = meta[base];
  int rank = meta[base + 1];
  for (int d = rank - 1; d >= 0; --d) {
    uint size = uint(meta[base + 2 + d]);
    offset += int(i % size) * meta[base + 10 + d];
    i /= size;
  }
  return offset;
}
