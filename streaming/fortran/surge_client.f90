! Fortran bindings of the surge streaming client (streaming/include/surge/streaming/client.h),
! through ISO_C_BINDING. A solver started by `surge run` (solver type external) joins the
! study with surge_init_from_env (every field of one shape) or surge_init_fields_from_env (a
! shape per field), sends its block of every field per output with surge_send, and ends with
! surge_finalize. Link libsurge_client_fortran and libsurge_client.
!
! Shapes, offsets and extents are given in Fortran order and reversed for the C API: a
! Fortran array u(ny, nx) is, for the server, a row-major field of shape [nx, ny], which is
! how the experiment file declares it (surge's axes: axis 0 is x, y the fastest). Each routine takes an optional `status`: without it,
! a failure stops the program (error stop) with the client's message.
module surge_client
  use, intrinsic :: iso_c_binding, only: c_char, c_double, c_int, c_int64_t, c_loc, &
                                         c_null_char, c_null_ptr, c_ptr, c_size_t, &
                                         c_associated, c_f_pointer
  implicit none
  private

  integer, parameter, public :: SURGE_OK = 0, SURGE_ERROR_ARGUMENT = 1, &
                                SURGE_ERROR_REFUSED = 2, SURGE_ERROR_PROTOCOL = 3, &
                                SURGE_ERROR_INTERNAL = 4
  integer, parameter, public :: SURGE_FLOAT32 = 1, SURGE_FLOAT64 = 2

  ! One MPI rank of a member.
  type, public :: surge_client_t
    type(c_ptr) :: handle = c_null_ptr
  end type surge_client_t

  public :: surge_init_from_env, surge_init_fields_from_env, surge_send, surge_finalize, &
            surge_last_error

  interface
    integer(c_int) function c_init_from_env(client, member_rank, member_size, dtype, &
                                            field_count, field_names, ndim, global_shape, &
                                            parameter_count, parameters) &
        bind(C, name="surge_client_init_from_env")
      import :: c_int, c_int64_t, c_double, c_ptr
      type(c_ptr), intent(out) :: client
      integer(c_int), value :: member_rank, member_size, dtype, field_count, ndim, &
                               parameter_count
      type(c_ptr), intent(in) :: field_names(*)
      integer(c_int64_t), intent(in) :: global_shape(*)  ! uint64_t in C
      real(c_double), intent(in) :: parameters(*)
    end function c_init_from_env

    integer(c_int) function c_init_fields_from_env(client, member_rank, member_size, dtype, &
                                                   field_count, field_names, ndims, shapes, &
                                                   parameter_count, parameters) &
        bind(C, name="surge_client_init_fields_from_env")
      import :: c_int, c_int64_t, c_double, c_ptr
      type(c_ptr), intent(out) :: client
      integer(c_int), value :: member_rank, member_size, dtype, field_count, parameter_count
      type(c_ptr), intent(in) :: field_names(*)
      integer(c_int), intent(in) :: ndims(*)
      integer(c_int64_t), intent(in) :: shapes(*)  ! uint64_t in C
      real(c_double), intent(in) :: parameters(*)
    end function c_init_fields_from_env

    integer(c_int) function c_init_named_from_env(client, member_rank, member_size, dtype, &
                                                  field_count, field_names, ndims, shapes, &
                                                  parameter_count, parameter_names, parameters) &
        bind(C, name="surge_client_init_named_from_env")
      import :: c_int, c_int64_t, c_double, c_ptr
      type(c_ptr), intent(out) :: client
      integer(c_int), value :: member_rank, member_size, dtype, field_count, parameter_count
      type(c_ptr), intent(in) :: field_names(*)
      integer(c_int), intent(in) :: ndims(*)
      integer(c_int64_t), intent(in) :: shapes(*)  ! uint64_t in C
      type(c_ptr), intent(in) :: parameter_names(*)
      real(c_double), intent(in) :: parameters(*)
    end function c_init_named_from_env

    integer(c_int) function c_send(client, field_name, step, time, data, block_offset, &
                                   block_extent) bind(C, name="surge_client_send")
      import :: c_int, c_int64_t, c_double, c_ptr, c_char
      type(c_ptr), value :: client
      character(kind=c_char), intent(in) :: field_name(*)
      integer(c_int64_t), value :: step
      real(c_double), value :: time
      type(*), intent(in) :: data(*)
      type(c_ptr), value :: block_offset, block_extent
    end function c_send

    integer(c_int) function c_finalize(client) bind(C, name="surge_client_finalize")
      import :: c_int, c_ptr
      type(c_ptr), value :: client
    end function c_finalize

    type(c_ptr) function c_last_error() bind(C, name="surge_client_last_error")
      import :: c_ptr
    end function c_last_error

    integer(c_size_t) function c_strlen(s) bind(C, name="strlen")
      import :: c_size_t, c_ptr
      type(c_ptr), value :: s
    end function c_strlen
  end interface

contains

  ! Joins the study that started this process. field_names: the fields this member streams
  ! (every one of global shape `shape`, Fortran order); parameters: the member's sampled
  ! values in the order of the experiment's solver.parameters.parameters; dtype:
  ! SURGE_FLOAT64 (real(c_double) data) or SURGE_FLOAT32 (real(c_float)).
  subroutine surge_init_from_env(client, member_rank, member_size, dtype, field_names, shape, &
                                 parameters, status)
    type(surge_client_t), intent(out) :: client
    integer, intent(in) :: member_rank, member_size, dtype
    character(len=*), intent(in) :: field_names(:)
    integer, intent(in) :: shape(:)
    real(c_double), intent(in) :: parameters(:)
    integer, intent(out), optional :: status
    character(kind=c_char), allocatable, target :: buffer(:)
    type(c_ptr), allocatable :: names(:)

    call c_names(field_names, buffer, names)
    call check(c_init_from_env(client%handle, int(member_rank, c_int), &
                               int(member_size, c_int), int(dtype, c_int), &
                               int(size(field_names), c_int), names, &
                               int(size(shape), c_int), c_extents(shape), &
                               int(size(parameters), c_int), parameters), &
               "surge_init_from_env", status)
  end subroutine surge_init_from_env

  ! As surge_init_from_env, with a shape per field: field i has ndims(i) axes, whose extents
  ! (Fortran order) follow those of the fields before it in `shapes`. A scalar u(ny, nx) and
  ! a vector field v(2, ny, nx) (its components the first, fastest axis):
  !   call surge_init_fields_from_env(client, rank, size, SURGE_FLOAT64, ["u", "v"], [2, 3], &
  !                                   [ny, nx, 2, ny, nx], [vx, kappa])
  ! which the experiment file declares as u: {shape: [nx, ny]}, v: {shape: [nx, ny],
  ! components: 2}. With `parameter_names` (one per value, e.g.
  ! parameter_names=[character(len=5) :: "vx", "kappa"]) the server checks them against the
  ! study's names and order (SURGE_PARAMETER_NAMES) and refuses the member if they differ.
  subroutine surge_init_fields_from_env(client, member_rank, member_size, dtype, field_names, &
                                        ndims, shapes, parameters, status, parameter_names)
    type(surge_client_t), intent(out) :: client
    integer, intent(in) :: member_rank, member_size, dtype
    character(len=*), intent(in) :: field_names(:)
    integer, intent(in) :: ndims(:), shapes(:)
    real(c_double), intent(in) :: parameters(:)
    integer, intent(out), optional :: status
    character(len=*), intent(in), optional :: parameter_names(:)
    character(kind=c_char), allocatable, target :: buffer(:), pbuffer(:)
    type(c_ptr), allocatable :: names(:), pnames(:)
    integer(c_int64_t) :: c_shapes(size(shapes))
    integer :: i, at

    if (present(parameter_names)) then
      if (size(parameter_names) /= size(parameters)) then
        if (.not. present(status)) error stop "surge_init_fields_from_env: give one " &
          //"parameter name per parameter"
        status = SURGE_ERROR_ARGUMENT
        return
      end if
    end if
    if (size(ndims) /= size(field_names) .or. sum(ndims) /= size(shapes) .or. &
        any(ndims < 1)) then
      if (.not. present(status)) error stop "surge_init_fields_from_env: give one ndims per " &
        //"field, each >= 1, and sum(ndims) extents in shapes"
      status = SURGE_ERROR_ARGUMENT
      return
    end if
    call c_names(field_names, buffer, names)
    at = 1
    do i = 1, size(ndims)  ! each field's extents reversed, in place
      c_shapes(at:at + ndims(i) - 1) = c_extents(shapes(at:at + ndims(i) - 1))
      at = at + ndims(i)
    end do
    if (present(parameter_names)) then
      call c_names(parameter_names, pbuffer, pnames)
      call check(c_init_named_from_env(client%handle, int(member_rank, c_int), &
                                       int(member_size, c_int), int(dtype, c_int), &
                                       int(size(field_names), c_int), names, &
                                       int(ndims, c_int), c_shapes, &
                                       int(size(parameters), c_int), pnames, parameters), &
                 "surge_init_fields_from_env", status)
      return
    end if
    call check(c_init_fields_from_env(client%handle, int(member_rank, c_int), &
                                      int(member_size, c_int), int(dtype, c_int), &
                                      int(size(field_names), c_int), names, &
                                      int(ndims, c_int), c_shapes, &
                                      int(size(parameters), c_int), parameters), &
               "surge_init_fields_from_env", status)
  end subroutine surge_init_fields_from_env

  ! Sends this rank's block of `field_name` at output `step` (0, 1, ...) and `time`: `data`
  ! holds the block (any rank, contiguous, of the client's dtype). Without offset and extent
  ! it is the whole field; with them (Fortran order, offsets from 0) the block's place in it.
  subroutine surge_send(client, field_name, step, time, data, offset, extent, status)
    type(surge_client_t), intent(in) :: client
    character(len=*), intent(in) :: field_name
    integer, intent(in) :: step
    real(c_double), intent(in) :: time
    type(*), intent(in) :: data(*)
    integer, intent(in), optional :: offset(:), extent(:)
    integer, intent(out), optional :: status
    integer(c_int64_t), allocatable, target :: c_offset(:), c_extent(:)
    type(c_ptr) :: p_offset, p_extent

    p_offset = c_null_ptr
    p_extent = c_null_ptr
    if (present(offset) .neqv. present(extent)) then
      if (.not. present(status)) error stop "surge_send: give both offset and extent, or neither"
      status = SURGE_ERROR_ARGUMENT
      return
    else if (present(offset)) then
      if (size(offset) /= size(extent)) then
        if (.not. present(status)) error stop "surge_send: offset and extent differ in size"
        status = SURGE_ERROR_ARGUMENT
        return
      end if
      c_offset = c_extents(offset)
      c_extent = c_extents(extent)
      p_offset = c_loc(c_offset)
      p_extent = c_loc(c_extent)
    end if
    call check(c_send(client%handle, trim(field_name)//c_null_char, &
                      int(step, c_int64_t), time, data, p_offset, p_extent), &
               "surge_send", status)
  end subroutine surge_send

  ! Ends the member's stream (after every block sent) and frees the client.
  subroutine surge_finalize(client, status)
    type(surge_client_t), intent(inout) :: client
    integer, intent(out), optional :: status

    call check(c_finalize(client%handle), "surge_finalize", status)
    client%handle = c_null_ptr
  end subroutine surge_finalize

  ! The message of this thread's last failed call, or "" if none failed.
  function surge_last_error() result(message)
    character(len=:), allocatable :: message
    type(c_ptr) :: p
    character(kind=c_char), pointer :: chars(:)
    integer :: i, n

    p = c_last_error()
    n = 0
    if (c_associated(p)) n = int(c_strlen(p))
    allocate (character(len=n) :: message)
    if (n == 0) return
    call c_f_pointer(p, chars, [n])
    do i = 1, n
      message(i:i) = chars(i)
    end do
  end function surge_last_error

  ! The names, each ended by NUL, one after the other in `buffer`, and their C pointers.
  subroutine c_names(field_names, buffer, names)
    character(len=*), intent(in) :: field_names(:)
    character(kind=c_char), allocatable, target, intent(out) :: buffer(:)
    type(c_ptr), allocatable, intent(out) :: names(:)
    integer :: i, k, at, n

    allocate (buffer(size(field_names)*(len(field_names) + 1)), names(size(field_names)))
    at = 1
    do i = 1, size(field_names)
      n = len_trim(field_names(i))
      names(i) = c_loc(buffer(at))
      do k = 1, n
        buffer(at + k - 1) = field_names(i)(k:k)
      end do
      buffer(at + n) = c_null_char
      at = at + n + 1
    end do
  end subroutine c_names

  ! Extents in Fortran order as the C API's row-major ones: reversed.
  pure function c_extents(extents) result(out)
    integer, intent(in) :: extents(:)
    integer(c_int64_t) :: out(size(extents))
    integer :: i

    do i = 1, size(extents)
      out(i) = int(extents(size(extents) + 1 - i), c_int64_t)
    end do
  end function c_extents

  ! Hands `code` to `status`, or stops the program with the message when there is none.
  subroutine check(code, what, status)
    integer(c_int), intent(in) :: code
    character(len=*), intent(in) :: what
    integer, intent(out), optional :: status

    if (present(status)) then
      status = int(code)
    else if (code /= SURGE_OK) then
      error stop what//": "//surge_last_error()
    end if
  end subroutine check

end module surge_client
