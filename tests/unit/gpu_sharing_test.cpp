// The GPU interposer's pieces that need no driver: the limits from the
// environment, the shared-memory ledger and the time-slice policy.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "agent/reclaim_reason.h"
#include "cuda/compute_policy.h"
#include "cuda/gpu_board.h"
#include "cuda/gpu_limits.h"

namespace allot::cuda {
namespace {

Result<GpuLimits> Parse(std::map<std::string, std::string> env) {
  return ParseGpuLimits(
      [&](const char* name) {
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
      },
      "session-1");
}

TEST(GpuLimits, ParsesSizesSharesAndModes) {
  auto limits = Parse({{"ALLOT_GPU_MEMORY_LIMIT", "10Gi"},
                       {"ALLOT_GPU_MEMORY_REQUEST", "4Gi"},
                       {"ALLOT_GPU_COMPUTE_SHARE", "30"},
                       {"ALLOT_GPU_SHARE_MODE", "strict"}});
  ASSERT_TRUE(limits.ok()) << limits.error().message;
  EXPECT_EQ(limits->memory_limit, 10ULL << 30);
  EXPECT_EQ(limits->memory_request, 4ULL << 30);
  EXPECT_TRUE(limits->Dynamic());
  EXPECT_TRUE(limits->Throttled());
  EXPECT_EQ(limits->mode, ShareMode::kStrict);
  EXPECT_EQ(limits->tenant, "session-1");
  EXPECT_EQ(*ParseByteSize("1048576"), 1048576U);
  EXPECT_EQ(*ParseByteSize("3Ki"), 3072U);
  auto unlimited = Parse({{"ALLOT_GPU_MEMORY_LIMIT", "unlimited"},
                          {"ALLOT_GPU_COMPUTE_SHARE", "100"},
                          {"ALLOT_GPU_SHARE_MODE", "fair"},
                          {"ALLOT_GPU_TENANT", "w/0/1"}});
  ASSERT_TRUE(unlimited.ok());
  EXPECT_EQ(unlimited->memory_limit, kUnlimited);
  EXPECT_FALSE(unlimited->Throttled());
  EXPECT_EQ(unlimited->tenant, "w/0/1");
}

TEST(GpuLimits, MissingOrMalformedValuesNameTheVariableAndTheFix) {
  std::map<std::string, std::string> good = {{"ALLOT_GPU_MEMORY_LIMIT", "1Gi"},
                                             {"ALLOT_GPU_COMPUTE_SHARE", "50"},
                                             {"ALLOT_GPU_SHARE_MODE", "fair"}};
  struct Case {
    std::string variable, value, expected;
  };
  for (const Case& c : std::vector<Case>{
           {"ALLOT_GPU_MEMORY_LIMIT", "", "ALLOT_GPU_MEMORY_LIMIT is not set"},
           {"ALLOT_GPU_MEMORY_LIMIT", "ten", "is not a size"},
           {"ALLOT_GPU_MEMORY_LIMIT", "10GB", "unknown suffix \"GB\""},
           {"ALLOT_GPU_MEMORY_LIMIT", "0", "is zero"},
           {"ALLOT_GPU_MEMORY_LIMIT", "99999999999Ti", "too large"},
           {"ALLOT_GPU_MEMORY_REQUEST", "2Gi", "must be at most ALLOT_GPU_MEMORY_LIMIT"},
           {"ALLOT_GPU_COMPUTE_SHARE", "", "ALLOT_GPU_COMPUTE_SHARE is not set"},
           {"ALLOT_GPU_COMPUTE_SHARE", "0", "not a percent from 1 to 100"},
           {"ALLOT_GPU_COMPUTE_SHARE", "101", "not a percent from 1 to 100"},
           {"ALLOT_GPU_COMPUTE_SHARE", "3.5", "not a percent from 1 to 100"},
           {"ALLOT_GPU_SHARE_MODE", "", "ALLOT_GPU_SHARE_MODE is not set"},
           {"ALLOT_GPU_SHARE_MODE", "greedy", "use \"strict\""},
       }) {
    auto env = good;
    if (c.value.empty()) {
      env.erase(c.variable);
    } else {
      env[c.variable] = c.value;
    }
    auto limits = Parse(env);
    ASSERT_FALSE(limits.ok()) << c.variable << "=" << c.value;
    EXPECT_NE(limits.error().message.find(c.expected), std::string::npos) << limits.error().message;
    EXPECT_EQ(limits.error().field, c.variable);
  }
}

TEST(GpuLimits, ComputeShareNeedsExactlyOneGpu) {
  GpuLimits limits;
  limits.compute_share = 30;
  EXPECT_FALSE(CheckComputeGpu(limits, nullptr).ok());
  EXPECT_FALSE(CheckComputeGpu(limits, "0,1").ok());
  EXPECT_TRUE(CheckComputeGpu(limits, "GPU-abc").ok());
  limits.compute_share = 100;
  EXPECT_TRUE(CheckComputeGpu(limits, nullptr).ok());
}

class BoardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ =
        std::filesystem::temp_directory_path() / ("allot-board-" + std::to_string(getpid()));
    std::filesystem::create_directories(directory_);
    auto board = GpuBoard::Open("GPU-test", directory_.string());
    ASSERT_TRUE(board.ok()) << board.error().message;
    board_ = std::move(*board);
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  static GpuLimits Limits(const std::string& tenant, uint64_t limit, uint64_t request = 0) {
    GpuLimits limits;
    limits.tenant = tenant;
    limits.memory_limit = limit;
    limits.memory_request = request == 0 ? limit : request;
    return limits;
  }

  std::filesystem::path directory_;
  std::unique_ptr<GpuBoard> board_;
};

TEST_F(BoardTest, ProcessesOfOneTenantShareItsLimitToTheByte) {
  int self = getpid();
  auto first = board_->Join(Limits("a", 1000), self, ProcessStartTime(self));
  auto second = board_->Join(Limits("a", 1000), self, ProcessStartTime(self));
  auto other = board_->Join(Limits("b", 1000), self, ProcessStartTime(self));
  ASSERT_TRUE(first.ok() && second.ok() && other.ok());
  EXPECT_TRUE(board_->Reserve(*first, 600));
  EXPECT_FALSE(board_->Reserve(*second, 401));
  EXPECT_TRUE(board_->Reserve(*second, 400));
  EXPECT_FALSE(board_->Reserve(*first, 1));
  EXPECT_TRUE(board_->Reserve(*other, 1000)) << "another tenant has its own limit";
  EXPECT_EQ(board_->TenantBytes(*first), 1000U);
  board_->Release(*first, 600);
  EXPECT_TRUE(board_->Reserve(*second, 600));
  EXPECT_FALSE(board_->Join(Limits("a", 2000), self, ProcessStartTime(self)).ok())
      << "a tenant's processes must share one limit";
}

TEST_F(BoardTest, ADeadProcessIsReapedAndItsBytesReturn) {
  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  auto dead = board_->Join(Limits("a", 1000), child, ProcessStartTime(child));
  ASSERT_TRUE(dead.ok());
  ASSERT_TRUE(board_->Reserve(*dead, 1000));
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  auto alive = board_->Join(Limits("a", 1000), getpid(), ProcessStartTime(getpid()));
  ASSERT_TRUE(alive.ok());
  EXPECT_TRUE(board_->Reserve(*alive, 1000)) << "the dead process's 1000 bytes came back";
  auto usage = board_->ReadUsage();
  ASSERT_EQ(usage.size(), 1U);
  EXPECT_EQ(usage[0].pid, getpid());
  EXPECT_EQ(usage[0].bytes, 1000U);
}

TEST_F(BoardTest, BorrowersAreTenantsAboveTheirRequest) {
  int self = getpid();
  auto lender = board_->Join(Limits("dynamic", 6000, 2000), self, ProcessStartTime(self));
  auto owner = board_->Join(Limits("owner", 6000), self, ProcessStartTime(self));
  ASSERT_TRUE(lender.ok() && owner.ok());
  ASSERT_TRUE(board_->Reserve(*lender, 2000));
  EXPECT_TRUE(board_->Borrowers(*owner).empty()) << "within its request it borrows nothing";
  ASSERT_TRUE(board_->Reserve(*lender, 1));
  EXPECT_EQ(board_->Borrowers(*owner), std::vector<int>{self});
}

TEST_F(BoardTest, ATakenBackLoanIsRecordedForTheBorrowersShimToReport) {
  int self = getpid();
  auto lender = board_->Join(Limits("nb/0/1", 6000, 2000), self, ProcessStartTime(self));
  auto owner = board_->Join(Limits("train/0/1", 6000), self, ProcessStartTime(self));
  ASSERT_TRUE(lender.ok() && owner.ok());
  ASSERT_TRUE(board_->Reserve(*lender, 3000));
  EXPECT_FALSE(board_->FindReclaim("nb/0/1")) << "nothing taken back yet";
  EXPECT_EQ(board_->TakeBackFromBorrowers(*owner), std::vector<int>{self});
  auto reclaim = board_->FindReclaim("nb/0/1");
  ASSERT_TRUE(reclaim);
  EXPECT_EQ(reclaim->bytes, 3000u);
  EXPECT_EQ(reclaim->request, 2000u);
  EXPECT_STREQ(reclaim->for_tenant, "train/0/1");
  std::map<std::string, std::string> env = {{"CUDA_VISIBLE_DEVICES", "GPU-test"},
                                            {"ALLOT_GPU_TENANT", "nb/0/1"},
                                            {"ALLOT_GPU_LEDGER_DIR", directory_.string()}};
  std::string why = agent::ReclaimReason(env, 0);
  EXPECT_NE(why.find("stopped to give back GPU memory lent above its request"), std::string::npos)
      << why;
  EXPECT_NE(why.find("on GPU-test"), std::string::npos) << why;
  EXPECT_EQ(agent::ReclaimReason(env, reclaim->time_ms + 1), "") << "a later attempt is not it";
  env["ALLOT_GPU_TENANT"] = "train/0/1";
  EXPECT_EQ(agent::ReclaimReason(env, 0), "") << "the owner lost nothing";
}

// The policy alone, on a board in memory.
class PolicyTest : public ::testing::Test {
 protected:
  int Add(int share, ShareMode mode) {
    int slot = count_++;
    ProcessRecord& record = board_.processes[slot];
    record.pid = 100 + slot;
    record.share = share;
    record.mode = static_cast<int32_t>(mode);
    return slot;
  }
  BoardLayout board_{};
  int count_ = 0;
};

TEST_F(PolicyTest, ContendingFairProcessesSplitTheGpuByShare) {
  board_.holder = -1;
  int small = Add(30, ShareMode::kFair);
  int large = Add(70, ShareMode::kFair);
  MarkDemand(board_, small);
  MarkDemand(board_, large);
  uint64_t now = 1'000'000'000, held[2] = {0, 0};
  for (int slice = 0; slice < 1000; ++slice) {
    ASSERT_TRUE(board_.holder >= 0 || GrantNext(board_, now));
    int holder = board_.holder;
    uint64_t used = SliceBudget(board_, holder);
    now += used;
    held[holder] += used;
    EndSlice(board_, holder, used, true, now);
  }
  double share = static_cast<double>(held[small]) / static_cast<double>(held[small] + held[large]);
  EXPECT_NEAR(share, 0.30, 0.02);
}

TEST_F(PolicyTest, StrictGetsItsShareOfWallTimeEvenAlone) {
  board_.holder = -1;
  int strict = Add(25, ShareMode::kStrict);
  MarkDemand(board_, strict);
  uint64_t start = 1'000'000'000, now = start, held = 0;
  while (now - start < 10'000'000'000ULL) {
    if (board_.holder < 0 && !GrantNext(board_, now)) {
      now += 100'000;  // idle: nobody eligible yet
      continue;
    }
    uint64_t used = SliceBudget(board_, strict);
    now += used;
    held += used;
    EndSlice(board_, strict, used, true, now);
  }
  EXPECT_NEAR(static_cast<double>(held) / static_cast<double>(now - start), 0.25, 0.02);
}

TEST_F(PolicyTest, AFairProcessAloneTakesIdleTimeAndReturningEarnsNoBurst) {
  board_.holder = -1;
  int fair = Add(30, ShareMode::kFair);
  int other = Add(70, ShareMode::kFair);
  MarkDemand(board_, fair);
  ASSERT_TRUE(GrantNext(board_, 0));
  EXPECT_EQ(board_.holder, fair) << "alone, a fair process gets the idle GPU";
  EndSlice(board_, fair, 5'000'000'000ULL, true, 1);
  // The other returns after the fair one ran for long: it starts at the
  // lowest virtual time of those waiting, not at zero.
  MarkDemand(board_, other);
  EXPECT_EQ(board_.processes[other].vtime_ns, board_.processes[fair].vtime_ns);
}

}  // namespace
}  // namespace allot::cuda
