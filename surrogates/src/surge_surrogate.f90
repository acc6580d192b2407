! Module surge_surrogate: the C API of <surge/surrogate.h> for Fortran (ISO_C_BINDING). A
! trained surrogate is a type(c_ptr) handle; every function returns SURGE_SURROGATE_OK (0) or
! an error code, and surge_surrogate_last_error() says what failed.
!
! Arrays are the C API's row-major [channels, grid...] arrays: a state of C channels on an
! nx x ny grid is real(c_float) :: state(ny, nx, C) in Fortran (or a flat array of
! surge_surrogate_output_size() values). Indices count from 0, as in C.
module surge_surrogate
  use, intrinsic :: iso_c_binding
  implicit none
  private

  integer(c_int), parameter, public :: SURGE_SURROGATE_OK = 0
  integer(c_int), parameter, public :: SURGE_SURROGATE_ERROR_ARGUMENT = 1
  integer(c_int), parameter, public :: SURGE_SURROGATE_ERROR_LOAD = 2
  integer(c_int), parameter, public :: SURGE_SURROGATE_ERROR_INTERNAL = 3
  integer(c_int), parameter, public :: SURGE_SURROGATE_FIELD_FROM_PARAMETERS = 1
  integer(c_int), parameter, public :: SURGE_SURROGATE_NEXT_STEP = 2

  ! Fortran strings in and out: these wrap the C functions that take or give char*.
  public :: surge_surrogate_load, surge_surrogate_last_error
  public :: surge_surrogate_parameter_name, surge_surrogate_channel_name
  ! The rest are the C functions themselves.
  public :: surge_surrogate_free, surge_surrogate_kind
  public :: surge_surrogate_parameter_count, surge_surrogate_parameter_range
  public :: surge_surrogate_channel_count, surge_surrogate_grid_rank, surge_surrogate_grid_extent
  public :: surge_surrogate_output_size, surge_surrogate_time_count, surge_surrogate_time
  public :: surge_surrogate_dt, surge_surrogate_predict, surge_surrogate_predict_batch
  public :: surge_surrogate_step, surge_surrogate_rollout

  interface
    integer(c_int) function c_load(surrogate, dir) bind(C, name="surge_surrogate_load")
      import :: c_int, c_ptr, c_char
      type(c_ptr), intent(out) :: surrogate
      character(kind=c_char), intent(in) :: dir(*)
    end function
    subroutine surge_surrogate_free(surrogate) bind(C, name="surge_surrogate_free")
      import :: c_ptr
      type(c_ptr), value :: surrogate
    end subroutine
    type(c_ptr) function c_last_error() bind(C, name="surge_surrogate_last_error")
      import :: c_ptr
    end function
    integer(c_int) function surge_surrogate_kind(surrogate, kind) &
        bind(C, name="surge_surrogate_kind")
      import :: c_int, c_ptr
      type(c_ptr), value :: surrogate
      integer(c_int), intent(out) :: kind
    end function
    integer(c_int) function surge_surrogate_parameter_count(surrogate, count) &
        bind(C, name="surge_surrogate_parameter_count")
      import :: c_int, c_ptr, c_int64_t
      type(c_ptr), value :: surrogate
      integer(c_int64_t), intent(out) :: count
    end function
    integer(c_int) function c_parameter_name(surrogate, index, name) &
        bind(C, name="surge_surrogate_parameter_name")
      import :: c_int, c_ptr, c_int64_t
      type(c_ptr), value :: surrogate
      integer(c_int64_t), value :: index
      type(c_ptr), intent(out) :: name
    end function
    integer(c_int) function surge_surrogate_parameter_range(surrogate, index, min, max) &
        bind(C, name="surge_surrogate_parameter_range")
      import :: c_int, c_ptr, c_int64_t, c_double
      type(c_ptr), value :: surrogate
      integer(c_int64_t), value :: index
      real(c_double), intent(out) :: min, max
    end function
    integer(c_int) function surge_surrogate_channel_count(surrogate, count) &
        bind(C, name="surge_surrogate_channel_count")
      import :: c_int, c_ptr, c_int64_t
      type(c_ptr), value :: surrogate
      integer(c_int64_t), intent(out) :: count
    end function
    integer(c_int) function c_channel_name(surrogate, index, name) &
        bind(C, name="surge_surrogate_channel_name")
      import :: c_int, c_ptr, c_int64_t
      type(c_ptr), value :: surrogate
      integer(c_int64_t), value :: index
      type(c_ptr), intent(out) :: name
    end function
    integer(c_int) function surge_surrogate_grid_rank(surrogate, rank) &
        bind(C, name="surge_surrogate_grid_rank")
      import :: c_int, c_ptr, c_int64_t
      type(c_ptr), value :: surrogate
      integer(c_int64_t), intent(out) :: rank
    end function
    integer(c_int) function surge_surrogate_grid_extent(surrogate, axis, extent) &
        bind(C, name="surge_surrogate_grid_extent")
      import :: c_int, c_ptr, c_int64_t
      type(c_ptr), value :: surrogate
      integer(c_int64_t), value :: axis
      integer(c_int64_t), intent(out) :: extent
    end function
    integer(c_int) function surge_surrogate_output_size(surrogate, size) &
        bind(C, name="surge_surrogate_output_size")
      import :: c_int, c_ptr, c_int64_t
      type(c_ptr), value :: surrogate
      integer(c_int64_t), intent(out) :: size
    end function
    integer(c_int) function surge_surrogate_time_count(surrogate, count) &
        bind(C, name="surge_surrogate_time_count")
      import :: c_int, c_ptr, c_int64_t
      type(c_ptr), value :: surrogate
      integer(c_int64_t), intent(out) :: count
    end function
    integer(c_int) function surge_surrogate_time(surrogate, index, t) &
        bind(C, name="surge_surrogate_time")
      import :: c_int, c_ptr, c_int64_t, c_double
      type(c_ptr), value :: surrogate
      integer(c_int64_t), value :: index
      real(c_double), intent(out) :: t
    end function
    integer(c_int) function surge_surrogate_dt(surrogate, dt) bind(C, name="surge_surrogate_dt")
      import :: c_int, c_ptr, c_double
      type(c_ptr), value :: surrogate
      real(c_double), intent(out) :: dt
    end function
    integer(c_int) function surge_surrogate_predict(surrogate, parameters, parameter_count, t, &
                                                    out, out_size) &
        bind(C, name="surge_surrogate_predict")
      import :: c_int, c_ptr, c_int64_t, c_double, c_float
      type(c_ptr), value :: surrogate
      real(c_double), intent(in) :: parameters(*)
      integer(c_int64_t), value :: parameter_count
      real(c_double), value :: t
      real(c_float), intent(out) :: out(*)
      integer(c_int64_t), value :: out_size
    end function
    integer(c_int) function surge_surrogate_predict_batch(surrogate, batch, parameters, &
                                                          parameter_count, t, out, out_size) &
        bind(C, name="surge_surrogate_predict_batch")
      import :: c_int, c_ptr, c_int64_t, c_double, c_float
      type(c_ptr), value :: surrogate
      integer(c_int64_t), value :: batch
      real(c_double), intent(in) :: parameters(*)
      integer(c_int64_t), value :: parameter_count
      real(c_double), intent(in) :: t(*)
      real(c_float), intent(out) :: out(*)
      integer(c_int64_t), value :: out_size
    end function
    integer(c_int) function surge_surrogate_step(surrogate, state, parameters, parameter_count, &
                                                 next, size) &
        bind(C, name="surge_surrogate_step")
      import :: c_int, c_ptr, c_int64_t, c_double, c_float
      type(c_ptr), value :: surrogate
      real(c_float), intent(in) :: state(*)
      real(c_double), intent(in) :: parameters(*)
      integer(c_int64_t), value :: parameter_count
      real(c_float), intent(out) :: next(*)
      integer(c_int64_t), value :: size
    end function
    integer(c_int) function surge_surrogate_rollout(surrogate, initial, parameters, &
                                                    parameter_count, steps, out, out_size) &
        bind(C, name="surge_surrogate_rollout")
      import :: c_int, c_ptr, c_int64_t, c_double, c_float
      type(c_ptr), value :: surrogate
      real(c_float), intent(in) :: initial(*)
      real(c_double), intent(in) :: parameters(*)
      integer(c_int64_t), value :: parameter_count
      integer(c_int64_t), value :: steps
      real(c_float), intent(out) :: out(*)
      integer(c_int64_t), value :: out_size
    end function
    integer(c_size_t) function c_strlen(text) bind(C, name="strlen")
      import :: c_size_t, c_ptr
      type(c_ptr), value :: text
    end function
  end interface

contains

  ! Loads the exported directory `dir` into `surrogate`.
  integer(c_int) function surge_surrogate_load(surrogate, dir) result(status)
    type(c_ptr), intent(out) :: surrogate
    character(len=*), intent(in) :: dir
    status = c_load(surrogate, trim(dir)//c_null_char)
  end function

  ! The message of this thread's last failed call, or "".
  function surge_surrogate_last_error() result(message)
    character(len=:), allocatable :: message
    message = from_c(c_last_error())
  end function

  integer(c_int) function surge_surrogate_parameter_name(surrogate, index, name) result(status)
    type(c_ptr), intent(in) :: surrogate
    integer(c_int64_t), intent(in) :: index
    character(len=:), allocatable, intent(out) :: name
    type(c_ptr) :: text
    status = c_parameter_name(surrogate, index, text)
    name = ""
    if (status == SURGE_SURROGATE_OK) name = from_c(text)
  end function

  integer(c_int) function surge_surrogate_channel_name(surrogate, index, name) result(status)
    type(c_ptr), intent(in) :: surrogate
    integer(c_int64_t), intent(in) :: index
    character(len=:), allocatable, intent(out) :: name
    type(c_ptr) :: text
    status = c_channel_name(surrogate, index, text)
    name = ""
    if (status == SURGE_SURROGATE_OK) name = from_c(text)
  end function

  ! A NUL-terminated C string as a Fortran string.
  function from_c(text) result(out)
    type(c_ptr), intent(in) :: text
    character(len=:), allocatable :: out
    character(kind=c_char), pointer :: chars(:)
    integer :: i, n
    n = int(c_strlen(text))
    call c_f_pointer(text, chars, [n])
    allocate (character(len=n) :: out)
    do i = 1, n
      out(i:i) = chars(i)
    end do
  end function

end module surge_surrogate
