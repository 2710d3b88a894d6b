// autograd_intro: the tensor and autograd of inv in one page.
//
// Fits y = 3x₁ - 2x₂ + 1 with a linear model by gradient descent, the loss
// written with inv's ops and the gradient computed by backward().
// Expected output (seed 0):
//   step    0  loss 17.616413
//   step  100  loss 0.000000
//   ...
//   w = (3.0000, -2.0000), b = 1.0000
#include <cstdio>
#include <inv/inv.hpp>

int main() {
  using namespace inv;
  Generator gen(0);
  const Tensor x = randn({64, 2}, gen);                                    // (N, 2) inputs
  const Tensor y = matmul(x, tensor({3, -2}, {2, 1})) + 1.0;              // (N, 1) targets
  Tensor w = zeros({2, 1}).requires_grad_(), b = zeros({1}).requires_grad_();

  for (int step = 0; step <= 300; ++step) {
    Tensor loss = mse_loss(matmul(x, w) + b, y);                           // 0-dim
    loss.backward();                                                       // fills w.grad(), b.grad()
    if (step % 100 == 0) std::printf("step %4d  loss %.6f\n", step, loss.item());
    NoGradGuard no_grad;                                                   // plain SGD, lr 0.1
    w.copy_(w - 0.1 * w.grad());
    b.copy_(b - 0.1 * b.grad());
    w.zero_grad();
    b.zero_grad();
  }
  std::printf("w = (%.4f, %.4f), b = %.4f\n", w.at<float>({0, 0}), w.at<float>({1, 0}), b.at<float>({0}));
}
