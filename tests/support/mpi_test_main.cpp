// GoogleTest main for tests run under mpirun: one World per process, results
// printed by rank 0 only; every rank's failure shows in its exit status.
#include <gtest/gtest.h>

#include "epalm/core/log.h"
#include "epalm/distributed/world.h"
#include "mpi_test_world.h"

namespace epalm::testing {

distributed::World* mpi_test_world = nullptr;

}  // namespace epalm::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  epalm::distributed::World world;
  epalm::testing::mpi_test_world = &world;
  epalm::log::set_rank(world.rank(), world.size(), world.topology().host);
  if (world.rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int failed = RUN_ALL_TESTS();
  // A rank that failed alone must fail the job: agree on the worst result.
  const int any_failed = static_cast<int>(world.all_reduce_max(failed));
  return any_failed;
}
