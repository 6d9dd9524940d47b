// The fake driver's graphs: kernel and memory-allocation nodes, launched
// as one piece of work.
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cuda/fake/fake_driver.h"

using namespace allot::fake_cuda;

FAKE_EXPORT CUresult cuGraphCreate(CUgraph* graph, unsigned int) {
  if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *graph = reinterpret_cast<CUgraph>(new Graph());
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuGraphDestroy(CUgraph graph) {
  auto* fake = reinterpret_cast<Graph*>(graph);
  if (fake == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (GraphNode* node : fake->nodes) {
    if (node->allocation != 0) (void)UnmapDeviceMemory(node->allocation);
    delete node;
  }
  delete fake;
  return CUDA_SUCCESS;
}

GraphNode* allot::fake_cuda::AddKernelNode(Graph* graph, const CUDA_KERNEL_NODE_PARAMS& kernel) {
  auto* created = new GraphNode{CU_GRAPH_NODE_TYPE_KERNEL, kernel, 0};
  graph->nodes.push_back(created);
  return created;
}

FAKE_EXPORT CUresult cuGraphAddKernelNode(CUgraphNode* node, CUgraph graph, const CUgraphNode*,
                                          size_t, const CUDA_KERNEL_NODE_PARAMS* parameters) {
  if (node == nullptr || graph == nullptr || parameters == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *node =
      reinterpret_cast<CUgraphNode>(AddKernelNode(reinterpret_cast<Graph*>(graph), *parameters));
  return CUDA_SUCCESS;
}

namespace {
// CUDA 10's kernel-node parameters: the same without the kernel and context.
CUDA_KERNEL_NODE_PARAMS FromV1(const CUDA_KERNEL_NODE_PARAMS_v1& v1) {
  return KernelLaunch(v1.func, v1.gridDimX, v1.gridDimY, v1.gridDimZ, v1.blockDimX, v1.blockDimY,
                      v1.blockDimZ, v1.sharedMemBytes, v1.kernelParams, v1.extra);
}

CUDA_KERNEL_NODE_PARAMS_v1 ToV1(const CUDA_KERNEL_NODE_PARAMS& kernel) {
  return {kernel.func,         kernel.gridDimX,  kernel.gridDimY,  kernel.gridDimZ,
          kernel.blockDimX,    kernel.blockDimY, kernel.blockDimZ, kernel.sharedMemBytes,
          kernel.kernelParams, kernel.extra};
}

GraphNode* KernelNode(CUgraphNode node) {
  auto* fake = reinterpret_cast<GraphNode*>(node);
  return fake != nullptr && fake->type == CU_GRAPH_NODE_TYPE_KERNEL ? fake : nullptr;
}
}  // namespace

FAKE_EXPORT CUresult FakeGraphAddKernelNodeV1(CUgraphNode* node, CUgraph graph,
                                              const CUgraphNode* dependencies, size_t count,
                                              const CUDA_KERNEL_NODE_PARAMS_v1* parameters) {
  if (parameters == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_KERNEL_NODE_PARAMS kernel = FromV1(*parameters);
  return cuGraphAddKernelNode(node, graph, dependencies, count, &kernel);
}

FAKE_EXPORT CUresult cuGraphKernelNodeGetParams(CUgraphNode node,
                                                CUDA_KERNEL_NODE_PARAMS* parameters) {
  GraphNode* kernel = KernelNode(node);
  if (kernel == nullptr || parameters == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *parameters = kernel->kernel;
  return CUDA_SUCCESS;
}

CUresult FakeGraphKernelNodeGetParamsV1(CUgraphNode node, CUDA_KERNEL_NODE_PARAMS_v1* parameters) {
  GraphNode* kernel = KernelNode(node);
  if (kernel == nullptr || parameters == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *parameters = ToV1(kernel->kernel);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuGraphGetNodes(CUgraph graph, CUgraphNode* nodes, size_t* count) {
  if (graph == nullptr || count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const std::vector<GraphNode*>& all = reinterpret_cast<Graph*>(graph)->nodes;
  if (nodes == nullptr) {
    *count = all.size();
    return CUDA_SUCCESS;
  }
  *count = std::min(*count, all.size());
  for (size_t i = 0; i < *count; ++i) nodes[i] = reinterpret_cast<CUgraphNode>(all[i]);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuGraphNodeGetType(CUgraphNode node, CUgraphNodeType* type) {
  if (node == nullptr || type == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *type = reinterpret_cast<GraphNode*>(node)->type;
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuGraphAddMemAllocNode(CUgraphNode* node, CUgraph graph, const CUgraphNode*,
                                            size_t, CUDA_MEM_ALLOC_NODE_PARAMS* parameters) {
  if (node == nullptr || graph == nullptr || parameters == nullptr) return CUDA_ERROR_INVALID_VALUE;
  int device = parameters->poolProps.location.id;
  if (device < 0 || device >= static_cast<int>(D().visible.size())) return CUDA_ERROR_INVALID_VALUE;
  CUdeviceptr pointer = 0;
  if (CUresult result = MapDeviceMemory(&pointer, parameters->bytesize, Physical(device));
      result != CUDA_SUCCESS) {
    return result;
  }
  parameters->dptr = pointer;
  auto* created = new GraphNode{CU_GRAPH_NODE_TYPE_MEM_ALLOC, {}, pointer};
  reinterpret_cast<Graph*>(graph)->nodes.push_back(created);
  *node = reinterpret_cast<CUgraphNode>(created);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuGraphInstantiate(CUgraphExec* exec, CUgraph graph, unsigned long long) {
  if (exec == nullptr || graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto* created = new GraphExec();
  for (const GraphNode* node : reinterpret_cast<Graph*>(graph)->nodes) {
    created->origins.push_back(node);
    created->nodes.push_back(*node);
  }
  *exec = reinterpret_cast<CUgraphExec>(created);
  return CUDA_SUCCESS;
}
// CUDA 10's form, with an error node and a log (the fake never fails to
// instantiate, so both stay empty).
CUresult FakeGraphInstantiateV1(CUgraphExec* exec, CUgraph graph, CUgraphNode* error_node,
                                char* log, size_t log_bytes) {
  if (error_node != nullptr) *error_node = nullptr;
  if (log != nullptr && log_bytes > 0) log[0] = '\0';
  return cuGraphInstantiate(exec, graph, 0);
}

FAKE_EXPORT CUresult cuGraphInstantiateWithParams(CUgraphExec* exec, CUgraph graph,
                                                  CUDA_GRAPH_INSTANTIATE_PARAMS* parameters) {
  if (parameters == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = cuGraphInstantiate(exec, graph, parameters->flags);
  parameters->hErrNode_out = nullptr;
  parameters->result_out =
      result == CUDA_SUCCESS ? CUDA_GRAPH_INSTANTIATE_SUCCESS : CUDA_GRAPH_INSTANTIATE_ERROR;
  return result;
}
FAKE_EXPORT CUresult cuGraphInstantiateWithParams_ptsz(CUgraphExec* exec, CUgraph graph,
                                                       CUDA_GRAPH_INSTANTIATE_PARAMS* parameters) {
  return cuGraphInstantiateWithParams(exec, graph, parameters);
}

// Changes a kernel node of the executable graph only (the graph it was made
// from keeps its parameters). The node is found by identity, without reading
// it: its graph may be gone.
FAKE_EXPORT CUresult cuGraphExecKernelNodeSetParams(CUgraphExec exec, CUgraphNode node,
                                                    const CUDA_KERNEL_NODE_PARAMS* parameters) {
  auto* fake = reinterpret_cast<GraphExec*>(exec);
  if (fake == nullptr || node == nullptr || parameters == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const auto& origins = fake->origins;
  auto found = std::find(origins.begin(), origins.end(), reinterpret_cast<GraphNode*>(node));
  if (found == origins.end()) return CUDA_ERROR_INVALID_VALUE;
  GraphNode& copy = fake->nodes[static_cast<size_t>(found - origins.begin())];
  if (copy.type != CU_GRAPH_NODE_TYPE_KERNEL) return CUDA_ERROR_INVALID_VALUE;
  copy.kernel = *parameters;
  return CUDA_SUCCESS;
}

CUresult FakeGraphExecKernelNodeSetParamsV1(CUgraphExec exec, CUgraphNode node,
                                            const CUDA_KERNEL_NODE_PARAMS_v1* parameters) {
  if (parameters == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_KERNEL_NODE_PARAMS kernel = FromV1(*parameters);
  return cuGraphExecKernelNodeSetParams(exec, node, &kernel);
}

FAKE_EXPORT CUresult cuGraphExecDestroy(CUgraphExec exec) {
  delete reinterpret_cast<GraphExec*>(exec);
  return CUDA_SUCCESS;
}

FAKE_EXPORT CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  if (exec == nullptr) return CUDA_ERROR_INVALID_VALUE;
  uint64_t duration = 0;
  for (const GraphNode& node : reinterpret_cast<GraphExec*>(exec)->nodes) {
    if (node.type == CU_GRAPH_NODE_TYPE_KERNEL) duration += KernelNs(node.kernel);
  }
  return LaunchOn(stream, std::max<uint64_t>(duration, 1000));
}
FAKE_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec exec, CUstream stream) {
  return cuGraphLaunch(exec, stream);
}
