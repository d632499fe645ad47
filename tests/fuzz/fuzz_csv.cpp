// tests/fuzz/fuzz_csv.cpp — any bytes as a CSV table: lines, fields, the
// header guess, numbers (finite float32 features, integer class labels), the
// label column and the class count.
//
// Input: one selector byte, then the file. Selector bits 0-1: header Auto,
// Yes or No; bit 2: ';' as the delimiter; bits 3-4: the label column (last,
// first, second, or by the name "label").
#include "fuzz_input.h"

using namespace minidp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static fuzz::InputFile file;
  const std::uint8_t mode = data[0];
  const std::string& path = file.write(data + 1, size - 1);
  nn::data::CsvOptions o;
  o.header = mode % 3 == 0 ? nn::data::CsvOptions::Header::Auto
                           : (mode % 3 == 1 ? nn::data::CsvOptions::Header::Yes : nn::data::CsvOptions::Header::No);
  o.delimiter = (mode & 4) ? ';' : ',';
  switch ((mode >> 3) & 3) {
    case 0: o.label_index = -1; break;
    case 1: o.label_index = 0; break;
    case 2: o.label_index = 1; break;
    default: o.label_column = "label"; break;
  }
  std::vector<std::string> names;
  return fuzz::expect_clean([&] { nn::data::read_csv(path, o, &names); });
}
