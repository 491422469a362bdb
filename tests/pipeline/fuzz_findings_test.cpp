// Fuzzing findings in pipeline/ (docs/FUZZING.md) whose inputs are generated here rather than kept as files in
// tests/fuzz/regressions/: each must be a clear yoco::Error or a result, never a crash.
#include <gtest/gtest.h>

#include <string>

#include "kernels/error.h"
#include "pipeline/instruction.h"
#include "pipeline/memory_budget.h"

namespace yoco::pipeline {
namespace {

// libstdc++'s std::regex recursed once per character: a 60 KB instruction (what one service request may
// carry) overflowed the stack.
TEST(FuzzFindings, LongInstructionsParse) {
  const std::string spaces(200000, ' '), ones(200000, '1'), letters(200000, 'e');
  EXPECT_DOUBLE_EQ(parse_instruction("every" + spaces + "1s").every, 1.0);
  EXPECT_THROW(parse_instruction("every " + ones + "s"), Error);  // a period past a double's range
  EXPECT_EQ(parse_instruction("every " + letters + "1s").kind, Instruction::Kind::kAlert);
  EXPECT_EQ(parse_instruction("say when " + letters).kind, Instruction::Kind::kAlert);
  const Instruction c = parse_instruction(spaces + "caption every 2.5 min");
  EXPECT_EQ(c.kind, Instruction::Kind::kCaption);
  EXPECT_DOUBLE_EQ(c.every, 150.0);
}

// std::stod threw std::out_of_range (not yoco::Error) for a period past a double's range, or below it.
TEST(FuzzFindings, InstructionPeriodOutOfRangeIsAnError) {
  EXPECT_THROW(parse_instruction("every " + std::string(400, '9') + " s"), Error);
  EXPECT_THROW(parse_instruction("every 0." + std::string(400, '0') + "1 s"), Error);
  EXPECT_THROW(parse_instruction("caption every 0 s"), Error);
  EXPECT_THROW(parse_instruction("caption every 0.001 s"), Error);  // would stall the stream's schedule
  EXPECT_DOUBLE_EQ(parse_instruction("caption every 0.01 s").every, 0.01);
  // What the regex accepted, the scanner accepts.
  EXPECT_DOUBLE_EQ(parse_instruction("Describe EVERY 5sec please").every, 5.0);
  EXPECT_DOUBLE_EQ(parse_instruction("every 2 minutes").every, 120.0);
  EXPECT_DOUBLE_EQ(parse_instruction("every every 3 s").every, 3.0);
  EXPECT_EQ(parse_instruction("every 5 sx").kind, Instruction::Kind::kAlert);
  EXPECT_EQ(parse_instruction("every 5.s").kind, Instruction::Kind::kAlert);
}

// "1e300" converted a double past size_t's range to size_t: undefined behaviour (UBSan).
TEST(FuzzFindings, HugeByteSizeIsAnError) {
  EXPECT_THROW(parse_byte_size("1e300"), Error);
  EXPECT_THROW(parse_byte_size("20000000G"), Error);
  EXPECT_EQ(parse_byte_size("512M"), size_t{512} << 20);
  EXPECT_EQ(parse_byte_size("8388608G"), size_t{1} << 53);
}

}  // namespace
}  // namespace yoco::pipeline
