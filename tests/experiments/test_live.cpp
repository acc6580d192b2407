// The live page's parts that need no browser (experiments/src/live): the board's bounded
// history, the JSON it serves, the --serve address.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "live/live_server.hpp"
#include "live/live_state.hpp"
#include "surge/core/error.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::experiments {
namespace {

TEST(LiveBoard, HistoryStaysBoundedAndKeepsItsPairsAndItsLastPoint) {
  LiveBoard board(100);
  for (std::int64_t b = 1; b <= 10000; ++b)
    board.record_batch(b, 1.0 / static_cast<double>(b), 50.0, 0.01 * static_cast<double>(b));
  const LiveState s = board.snapshot();
  ASSERT_EQ(s.loss.size(), s.loss_batch.size());
  EXPECT_LE(s.loss.size(), 100u);
  EXPECT_GE(s.loss.size(), 50u);
  EXPECT_EQ(s.loss_batch.front(), 1.0);
  EXPECT_EQ(s.loss_batch.back(), 10000.0);
  EXPECT_EQ(s.batch, 10000);
  for (std::size_t i = 0; i < s.loss.size(); ++i) {
    EXPECT_DOUBLE_EQ(s.loss[i], 1.0 / s.loss_batch[i]);
    if (i > 0) {
      EXPECT_LT(s.loss_batch[i - 1], s.loss_batch[i]);
    }
  }
  // 100 batches each second of wall time.
  EXPECT_NEAR(s.batches_per_s, 100.0, 1e-6);
}

// A finished study's page draws results.h5's loss rows: past History::kTrainingRows each row
// is a mean over several batches, and the last batch's own loss (drawn during the run) is not
// the last row's. The page's last point must be the row results.h5 ends with.
TEST(LiveBoard, AFinishedStudysLossIsTheHistorysRows) {
  LiveBoard board(2000);
  surrogates::History history;
  const std::int64_t batches =
      2 * static_cast<std::int64_t>(surrogates::History::kTrainingRows) + 7;
  for (std::int64_t b = 1; b <= batches; ++b) {
    surrogates::TrainingRecord r;
    r.batch = b;
    r.samples = 32;
    r.loss = 1.0 / static_cast<double>(b);
    history.add(r);
    board.record_batch(b, r.loss, 50.0, 0.01 * static_cast<double>(b));
  }
  const surrogates::TrainingRecord& last = history.training.back();
  ASSERT_EQ(last.batch, batches);
  ASSERT_NE(board.snapshot().loss.back(), last.loss);  // the run's point: one batch's loss
  std::vector<double> batch, loss;
  for (const auto& r : history.training) {
    batch.push_back(static_cast<double>(r.batch));
    loss.push_back(r.loss);
  }
  board.replace_loss(batch, loss);
  const LiveState s = board.snapshot();
  ASSERT_EQ(s.loss.size(), s.loss_batch.size());
  EXPECT_LE(s.loss.size(), 2000u);
  EXPECT_EQ(s.loss_batch.back(), static_cast<double>(batches));
  EXPECT_EQ(s.loss.back(), last.loss);
  EXPECT_EQ(s.loss.front(), history.training.front().loss);
  EXPECT_THROW(board.replace_loss({1.0, 2.0}, {1.0}), core::ConfigError);
  LiveBoard tiny(1);  // thinning keeps the first and the last point: it must still end
  tiny.replace_loss({1.0, 2.0, 3.0, 4.0}, {4.0, 3.0, 2.0, 1.0});
  EXPECT_EQ(tiny.snapshot().loss, (std::vector<double>{4.0, 1.0}));
}

TEST(LiveBoard, ValidationPointsPerChannel) {
  LiveBoard board(4);
  for (int b = 1; b <= 9; ++b) board.record_validation(b * 10, {"u", "v"}, {0.1 * b, 0.2 * b});
  board.record_validation(100, {"u", "v"}, {1.0});  // a wrong width: ignored
  const LiveState s = board.snapshot();
  ASSERT_EQ(s.channels, (std::vector<std::string>{"u", "v"}));
  ASSERT_EQ(s.validation_rel_l2.size(), 2u);
  EXPECT_LE(s.validation_batch.size(), 4u);
  EXPECT_EQ(s.validation_batch.back(), 90.0);
  EXPECT_DOUBLE_EQ(s.validation_rel_l2[1].back(), 1.8);
  EXPECT_EQ(s.validation_rel_l2[0].size(), s.validation_batch.size());
}

TEST(LiveJson, EscapesTextAndWritesNonFiniteAsNull) {
  LiveState s;
  s.study = "a \"b\" <script>\n";
  s.loss = {1.5, std::numeric_limits<double>::quiet_NaN()};
  s.loss_batch = {1, 2};
  s.members.present = true;
  s.members.rows.push_back({7, "train", "failed", "exited with code 3", 2, 11, {}});
  s.members.failed = 1;
  const std::string json = to_json(s);
  EXPECT_NE(json.find(R"("study":"a \"b\" \u003cscript\u003e\u000a")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("loss":[1.5,null])"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("failed":1)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"({"id":7,"role":"train","status":"failed","attempts":2,"samples":11,)"
                      R"("last_error":"exited with code 3","parameters":[]})"),
            std::string::npos)
      << json;
}

TEST(LiveMembersFromRecords, CountsByStatusAndSamplesBySimulation) {
  std::vector<MemberRecord> records(3);
  records[0].simulation_id = 4;
  records[0].status = MemberStatus::done;
  records[1].simulation_id = 5;
  records[1].status = MemberStatus::failed;
  records[1].last_error = "killed";
  records[2].simulation_id = 6;
  records[2].status = MemberStatus::done;
  records[2].parameters = {0.5, 2.0};
  const LiveMembers m = live_members(records, {{4, 10}, {6, 3}}, {"a", "b"});
  EXPECT_EQ(m.parameter_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(m.rows[2].parameters, (std::vector<double>{0.5, 2.0}));
  EXPECT_TRUE(m.present);
  EXPECT_EQ(m.done, 2);
  EXPECT_EQ(m.failed, 1);
  EXPECT_EQ(m.samples_in, 13);
  ASSERT_EQ(m.rows.size(), 3u);
  EXPECT_EQ(m.rows[1].samples, 0);
  EXPECT_EQ(m.rows[1].last_error, "killed");
}

// Every k-th node per axis (k = ceil(longest side / 64)), axis 1 fastest, channel after channel.
TEST(LiveImageFromFrame, ThinsEachAxisAndKeepsChannelsApart) {
  const std::vector<std::int64_t> grid = {130, 70};  // k = 3: 44 x 24 nodes
  const std::size_t field = 130 * 70;
  std::vector<float> truth(2 * field), prediction(2 * field);
  for (std::size_t c = 0; c < 2; ++c) {
    for (std::size_t i = 0; i < 130; ++i) {
      for (std::size_t j = 0; j < 70; ++j) {
        truth[c * field + i * 70 + j] = static_cast<float>(1000 * c + 10 * i + j);
        prediction[c * field + i * 70 + j] = -truth[c * field + i * 70 + j];
      }
    }
  }
  const LiveImage image = live_image(truth.data(), prediction.data(), grid, 2);
  EXPECT_EQ(image.step, 3);
  ASSERT_EQ(image.grid, (std::vector<std::int64_t>{44, 24}));
  ASSERT_EQ(image.truth.size(), 2u);
  ASSERT_EQ(image.truth[1].size(), 44u * 24u);
  EXPECT_EQ(image.truth[0][1 * 24 + 2], 10 * 3 + 2 * 3);          // node (3, 6)
  EXPECT_EQ(image.truth[1][43 * 24 + 23], 1000 + 10 * 129 + 69);  // node (129, 69)
  EXPECT_EQ(image.prediction[1][43 * 24 + 23], -(1000 + 10 * 129 + 69));
  EXPECT_LT(live_image(truth.data(), prediction.data(), {9100}, 2).simulation_id, 0);  // 1-D
  const std::string json = to_json([&] {
    LiveState s;
    s.image = image;
    return s;
  }());
  EXPECT_NE(json.find(R"("grid":[44,24],"step":3,"truth":[[0,3,6,)"), std::string::npos);
}

TEST(ServeAddress, HostAndPortEitherMayBeLeftOut) {
  const ServeAddress a = parse_serve_address("0.0.0.0:8080");
  EXPECT_EQ(a.host, "0.0.0.0");
  EXPECT_EQ(a.port, 8080);
  const ServeAddress b = parse_serve_address(":9000");
  EXPECT_EQ(b.host, "127.0.0.1");
  EXPECT_EQ(b.port, 9000);
  const ServeAddress c = parse_serve_address("node12");
  EXPECT_EQ(c.host, "node12");
  EXPECT_EQ(c.port, 0);
  for (const char* bad : {"h:", "h:70000", "h:-1", "h:80x"}) {
    EXPECT_THROW((void)parse_serve_address(bad), core::ConfigError) << bad;
  }
}

}  // namespace
}  // namespace surge::experiments
