#include "server/answer_deadlines.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "gtest/gtest.h"

namespace creditd::server {
namespace {

TEST(AnswerDeadlinesTest, ExpiresOnlyUnclaimedAnswers) {
  std::atomic<int> expired_a{0}, expired_b{0};
  auto a = std::make_shared<PendingAnswer>();
  auto b = std::make_shared<PendingAnswer>();
  {
    AnswerDeadlines deadlines(absl::Milliseconds(200));
    const auto start = std::chrono::steady_clock::now();
    deadlines.Track(a, [&] { ++expired_a; });
    deadlines.Track(b, [&] { ++expired_b; });
    ASSERT_TRUE(b->Claim());  // answered in time
    while (expired_a == 0 && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  }
  EXPECT_EQ(expired_a, 1);
  EXPECT_EQ(expired_b, 0);
  EXPECT_FALSE(a->Claim());  // the deadline claimed it: a late commit must not answer
}

TEST(AnswerDeadlinesTest, ZeroTracksNothing) {
  std::atomic<int> expired{0};
  auto a = std::make_shared<PendingAnswer>();
  {
    AnswerDeadlines deadlines(absl::ZeroDuration());
    deadlines.Track(a, [&] { ++expired; });
  }
  EXPECT_EQ(expired, 0);
  EXPECT_TRUE(a->Claim());
}

}  // namespace
}  // namespace creditd::server
