! A Fortran member of the shape-per-field test (test_c_api_shapes.cpp): joins the server named
! by its environment with surge_init_fields_from_env, a scalar u(6, 4) and a vector field
! grad(2, 6, 4) (components first), sends both whole at step 0, their values counting up in
! memory order (u from 0, grad from 1000), and finalizes. A call that disagrees with itself
! (ndims and shapes of different lengths) is refused first, then one naming its parameters
! in another order than the study's [amp, tb] (the server's refusal names both); the member
! joins naming them in order. Any failure stops the program with a non-zero status.
program fortran_fields_client
  use surge_client
  use, intrinsic :: iso_c_binding, only: c_double
  implicit none
  type(surge_client_t) :: client, other
  real(c_double) :: u(6, 4), grad(2, 6, 4)
  integer :: i, status

  u = reshape([(real(i, c_double), i=0, 23)], [6, 4])
  grad = reshape([(real(1000 + i, c_double), i=0, 47)], [2, 6, 4])
  call surge_init_fields_from_env(other, 0, 1, SURGE_FLOAT64, ["u"], [2], [6, 4, 2], &
                                  [0.25_c_double, 3.0_c_double], status)
  if (status /= SURGE_ERROR_ARGUMENT) error stop "ndims and shapes that disagree were taken"
  call surge_init_fields_from_env(other, 0, 1, SURGE_FLOAT64, ["u   ", "grad"], [2, 3], &
                                  [6, 4, 2, 6, 4], [3.0_c_double, 0.25_c_double], status, &
                                  parameter_names=[character(len=3) :: "tb", "amp"])
  if (status /= SURGE_ERROR_REFUSED) error stop "parameters in another order were admitted"
  if (index(surge_last_error(), "parameters [tb, amp], the study's are [amp, tb]") == 0) &
    error stop "the refusal does not name both orders"
  call surge_init_fields_from_env(client, 0, 1, SURGE_FLOAT64, ["u   ", "grad"], [2, 3], &
                                  [6, 4, 2, 6, 4], [0.25_c_double, 3.0_c_double], &
                                  parameter_names=[character(len=3) :: "amp", "tb"])
  call surge_send(client, "u", 0, 0.0_c_double, u)
  call surge_send(client, "grad", 0, 0.0_c_double, grad)
  call surge_finalize(client)
end program fortran_fields_client
