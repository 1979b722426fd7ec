// One conformance suite for every Communicator backend this build and machine
// have (local at world size 1, mpi, nccl with a GPU per rank), run under
// mpirun -np 1, 2 and 3: every collective, dtype (bf16 and fp16 included),
// empty and odd sizes, in-place forms, asynchronous handles, split calls and
// argument errors. Each rank's input is a known function of (rank, index), so
// every rank computes the expected result of the whole job itself.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "epalm/core/error.h"
#include "epalm/distributed/communicators.h"
#include "epalm/distributed/mpi_communicator.h"
#include "epalm/distributed/world.h"
#include "mpi_test_world.h"
#include "tolerance.h"

namespace epalm::distributed {
namespace {

const std::vector<c10::ScalarType> kDtypes = {torch::kFloat,  torch::kDouble, torch::kBFloat16, torch::kHalf,
                                              torch::kInt,    torch::kLong,   torch::kChar,     torch::kByte};
const std::vector<std::int64_t> kSizes = {0, 1, 7, 1000};

// Small non-negative integers: exact in every dtype, sums of 3 ranks included.
torch::Tensor input_of(int rank, std::int64_t n, std::int64_t salt = 0) {
  return (torch::arange(n, torch::kLong) * 3 + rank * 7 + salt).remainder(11).to(torch::kDouble);
}

// The expected reduction over every rank's input, in double.
torch::Tensor reduce_all(int size, std::int64_t n, parallel::ReduceOp op, std::int64_t salt = 0) {
  auto acc = input_of(0, n, salt);
  for (int r = 1; r < size; ++r) {
    const auto x = input_of(r, n, salt);
    if (op == parallel::ReduceOp::kMax) acc = torch::maximum(acc, x);
    else if (op == parallel::ReduceOp::kMin) acc = torch::minimum(acc, x);
    else acc = acc + x;
  }
  if (op == parallel::ReduceOp::kAvg) acc = acc / size;
  return acc;
}

std::vector<parallel::ReduceOp> ops_for(c10::ScalarType dtype) {
  std::vector<parallel::ReduceOp> ops = {parallel::ReduceOp::kSum, parallel::ReduceOp::kMax, parallel::ReduceOp::kMin};
  if (at::isFloatingType(dtype)) ops.push_back(parallel::ReduceOp::kAvg);
  return ops;
}

std::string label(c10::ScalarType dtype, std::int64_t n, const std::string& more = "") {
  return std::string(c10::toString(dtype)) + " n=" + std::to_string(n) + (more.empty() ? "" : " " + more);
}

// `actual` equals `expected` (double) after rounding expected to actual's
// dtype. The inputs are small non-negative integers, so sums, maxima, copies
// are exact in every dtype: equal, no tolerance. An average over
// `averaged_over` ranks divides (a backend may instead scale each term by
// 1/N before summing): at most N roundings of non-negative terms, so within
// gamma_N of the exact value, and `expected` rounded to the dtype is within
// one more rounding of it: gamma_{N+2} relative to the value, in the dtype's
// unit roundoff.
void expect_matches(const torch::Tensor& actual, const torch::Tensor& expected, const std::string& what,
                    int averaged_over = 0) {
  const auto got = actual.cpu().to(torch::kDouble);
  const auto want = expected.to(actual.scalar_type()).to(torch::kDouble);
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const double factor =
      averaged_over > 0 ? testing::gamma_n(averaged_over + 2, testing::unit_roundoff(actual.scalar_type())) : 0.0;
  EXPECT_TRUE(testing::within(got, want, factor * want.abs(), what))
      << "\ngot  " << got.slice(0, 0, 8) << "\nwant " << want.slice(0, 0, 8);
}

class Conformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const World& world = *testing::mpi_test_world;
    const auto& backend = GetParam();
    if (backend == "local" && world.size() > 1) GTEST_SKIP() << "local serves world size 1 only";
    if (backend == "nccl") {
      if (!nccl_available()) GTEST_SKIP() << "this build has no NCCL";
      if (!torch::cuda::is_available() ||
          static_cast<int>(torch::cuda::device_count()) < world.topology().local_world) {
        GTEST_SKIP() << "nccl needs one GPU per rank on this node";
      }
      device_ = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(world.topology().local_rank));
    }
    CommunicatorOptions options;
    options.backend = backend;
    options.timeout = std::chrono::seconds(30);
    comm_ = make_communicator(world, device_, options);
  }

  torch::Tensor on_device(const torch::Tensor& t, c10::ScalarType dtype) const { return t.to(dtype).to(device_); }

  c10::Device device_ = c10::kCPU;
  std::unique_ptr<parallel::Communicator> comm_;
};

TEST_P(Conformance, KnowsItsPlaceInTheWorld) {
  const World& world = *testing::mpi_test_world;
  EXPECT_EQ(comm_->rank(), world.rank());
  EXPECT_EQ(comm_->size(), world.size());
  EXPECT_EQ(comm_->backend(), GetParam());
}

TEST_P(Conformance, AllReducesEveryDtypeOpAndSize) {
  for (auto dtype : kDtypes) {
    for (auto n : kSizes) {
      for (auto op : ops_for(dtype)) {
        auto t = on_device(input_of(comm_->rank(), n), dtype);
        comm_->all_reduce(t, op)->wait();
        expect_matches(t, reduce_all(comm_->size(), n, op), label(dtype, n, reduce_op_name(op)),
                       op == parallel::ReduceOp::kAvg ? comm_->size() : 0);
      }
    }
  }
}

TEST_P(Conformance, AllGathersOutOfPlaceAndInPlace) {
  const int size = comm_->size();
  for (auto dtype : kDtypes) {
    for (auto n : kSizes) {
      std::vector<torch::Tensor> parts;
      for (int r = 0; r < size; ++r) parts.push_back(input_of(r, n, 5));
      const auto expected = torch::cat(parts);

      auto shard = on_device(input_of(comm_->rank(), n, 5), dtype);
      auto full = torch::full({n * size}, 99, torch::TensorOptions().dtype(dtype).device(device_));
      comm_->all_gather(shard, full)->wait();
      expect_matches(full, expected, label(dtype, n, "out of place"));

      auto in_place = torch::full({n * size}, 99, torch::TensorOptions().dtype(dtype).device(device_));
      auto slot = in_place.narrow(0, comm_->rank() * n, n);
      slot.copy_(shard);
      comm_->all_gather(slot, in_place)->wait();
      expect_matches(in_place, expected, label(dtype, n, "in place"));
    }
  }
}

TEST_P(Conformance, ReduceScattersOutOfPlaceAndInPlace) {
  const int size = comm_->size();
  const int rank = comm_->rank();
  for (auto dtype : kDtypes) {
    for (auto n : kSizes) {
      for (auto op : ops_for(dtype)) {
        const auto expected = reduce_all(size, n * size, op, 2).narrow(0, rank * n, n);
        auto full = on_device(input_of(rank, n * size, 2), dtype);
        auto shard = torch::full({n}, 99, torch::TensorOptions().dtype(dtype).device(device_));
        comm_->reduce_scatter(full, shard, op)->wait();
        expect_matches(shard, expected, label(dtype, n, std::string(reduce_op_name(op)) + " out of place"),
                       op == parallel::ReduceOp::kAvg ? size : 0);

        auto slot = full.narrow(0, rank * n, n);
        full.copy_(on_device(input_of(rank, n * size, 2), dtype));
        comm_->reduce_scatter(full, slot, op)->wait();
        expect_matches(slot, expected, label(dtype, n, std::string(reduce_op_name(op)) + " in place"),
                       op == parallel::ReduceOp::kAvg ? size : 0);
      }
    }
  }
}

TEST_P(Conformance, BroadcastsFromEveryRoot) {
  for (auto dtype : kDtypes) {
    for (auto n : kSizes) {
      for (int root = 0; root < comm_->size(); ++root) {
        auto t = on_device(input_of(comm_->rank(), n, 1), dtype);
        comm_->broadcast(t, root)->wait();
        expect_matches(t, input_of(root, n, 1), label(dtype, n, "root " + std::to_string(root)));
      }
    }
  }
}

TEST_P(Conformance, HandlesFinishInAnyOrder) {
  // Several collectives in flight at once, waited on in reverse order.
  std::vector<torch::Tensor> tensors;
  std::vector<std::unique_ptr<parallel::Work>> works;
  for (int i = 0; i < 4; ++i) {
    tensors.push_back(on_device(input_of(comm_->rank(), 257 + i, i), torch::kFloat));
    works.push_back(comm_->all_reduce(tensors.back(), parallel::ReduceOp::kSum));
  }
  for (int i = 3; i >= 0; --i) works[i]->wait();
  for (int i = 0; i < 4; ++i) {
    expect_matches(tensors[i], reduce_all(comm_->size(), 257 + i, parallel::ReduceOp::kSum, i), "in flight #" + std::to_string(i));
  }
  if (device_.is_cuda()) torch::cuda::synchronize();
  for (auto& w : works) EXPECT_TRUE(w->done());
}

TEST_P(Conformance, TalliesCallsAndBytes) {
  comm_->reset_tallies();
  const int size = comm_->size();
  auto t = on_device(input_of(comm_->rank(), 10), torch::kFloat);
  comm_->all_reduce(t, parallel::ReduceOp::kSum)->wait();
  comm_->all_reduce(t, parallel::ReduceOp::kMax)->wait();
  auto full = torch::zeros({6 * size}, torch::TensorOptions().dtype(torch::kBFloat16).device(device_));
  comm_->all_gather(full.narrow(0, comm_->rank() * 6, 6), full)->wait();
  comm_->barrier();
  EXPECT_EQ(comm_->tally(parallel::Collective::kAllReduce).calls, 2);
  EXPECT_EQ(comm_->tally(parallel::Collective::kAllReduce).bytes, 2 * 10 * 4);
  EXPECT_EQ(comm_->tally(parallel::Collective::kAllGather).calls, 1);
  EXPECT_EQ(comm_->tally(parallel::Collective::kAllGather).bytes, 6 * size * 2);
  EXPECT_EQ(comm_->tally(parallel::Collective::kBarrier).calls, 1);
  EXPECT_EQ(comm_->tally(parallel::Collective::kReduceScatter).calls, 0);
}

TEST_P(Conformance, RejectsInconsistentArgumentsBeforeCommunicating) {
  const int size = comm_->size();
  auto opts = torch::TensorOptions().device(device_);
  auto expect_error = [](const std::function<void()>& call, const std::string& fragment) {
    try {
      call();
      ADD_FAILURE() << "no error; expected one saying '" << fragment << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error([&] { comm_->all_gather(torch::zeros({3}, opts), torch::zeros({3 * size + 1}, opts)); },
               "all_gather: full has " + std::to_string(3 * size + 1) + " elements, expected " +
                   std::to_string(size) + " ranks x 3");
  expect_error([&] { comm_->reduce_scatter(torch::zeros({4 * size}, opts), torch::zeros({3}, opts), parallel::ReduceOp::kSum); },
               "reduce_scatter: full has");
  expect_error([&] { comm_->all_reduce(torch::zeros({4}, opts.dtype(torch::kInt)), parallel::ReduceOp::kAvg); },
               "all_reduce: avg needs a floating dtype");
  expect_error([&] { comm_->all_reduce(torch::zeros({4, 4}, opts).t(), parallel::ReduceOp::kSum); },
               "all_reduce: tensor must be contiguous");
  expect_error([&] { comm_->broadcast(torch::zeros({4}, opts), size); }, "broadcast: root " + std::to_string(size));
  expect_error([&] { comm_->all_gather(torch::zeros({2}, opts), torch::zeros({2 * size}, opts.dtype(torch::kDouble))); },
               "differ in dtype or device");
  // Nothing was sent: the next collective still pairs up across ranks.
  auto t = on_device(input_of(comm_->rank(), 5), torch::kFloat);
  comm_->all_reduce(t, parallel::ReduceOp::kSum)->wait();
  expect_matches(t, reduce_all(size, 5, parallel::ReduceOp::kSum), "after the errors");
}

INSTANTIATE_TEST_SUITE_P(Backends, Conformance, ::testing::Values("local", "mpi", "nccl"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// MPI counts are int: collectives beyond max_elements_per_call are split.
// More than INT_MAX elements would not fit this machine's memory in fp32, so
// the splitting is proven with a small artificial limit instead.
TEST(MpiCommunicator, SplitsCollectivesBeyondTheCountLimit) {
  const World& world = *testing::mpi_test_world;
  CommunicatorOptions options;
  options.max_elements_per_call = 3;
  options.timeout = std::chrono::seconds(30);
  MpiCommunicator comm(world, options);
  const int size = comm.size();
  const int rank = comm.rank();
  for (auto dtype : {torch::kFloat, torch::kBFloat16, torch::kLong}) {
    auto before = comm.mpi_calls();
    auto t = input_of(rank, 10).to(dtype);
    comm.all_reduce(t, parallel::ReduceOp::kSum)->wait();
    expect_matches(t, reduce_all(size, 10, parallel::ReduceOp::kSum), label(dtype, 10, "all_reduce"));
    EXPECT_EQ(comm.mpi_calls() - before, 4) << "10 elements in calls of 3";

    before = comm.mpi_calls();
    auto b = input_of(rank, 7, 1).to(dtype);
    comm.broadcast(b, size - 1)->wait();
    expect_matches(b, input_of(size - 1, 7, 1), label(dtype, 7, "broadcast"));
    EXPECT_EQ(comm.mpi_calls() - before, 3);

    // 7 elements per rank: each rank's slot goes in 3 pieces.
    std::vector<torch::Tensor> parts;
    for (int r = 0; r < size; ++r) parts.push_back(input_of(r, 7, 5));
    for (bool in_place : {false, true}) {
      before = comm.mpi_calls();
      auto full = torch::full({7 * size}, 99).to(dtype);
      auto shard = in_place ? full.narrow(0, rank * 7, 7) : torch::empty({7}, dtype);
      shard.copy_(input_of(rank, 7, 5));
      comm.all_gather(shard, full)->wait();
      expect_matches(full, torch::cat(parts), label(dtype, 7, in_place ? "all_gather in place" : "all_gather"));
      EXPECT_EQ(comm.mpi_calls() - before, 3 * size);

      before = comm.mpi_calls();
      auto source = input_of(rank, 7 * size, 2).to(dtype);
      auto target = in_place ? source.narrow(0, rank * 7, 7) : torch::empty({7}, dtype);
      comm.reduce_scatter(source, target, parallel::ReduceOp::kMax)->wait();
      expect_matches(target, reduce_all(size, 7 * size, parallel::ReduceOp::kMax, 2).narrow(0, rank * 7, 7),
                     label(dtype, 7, in_place ? "reduce_scatter in place" : "reduce_scatter"));
      EXPECT_EQ(comm.mpi_calls() - before, 3 * size);
    }
  }
}

}  // namespace
}  // namespace epalm::distributed
