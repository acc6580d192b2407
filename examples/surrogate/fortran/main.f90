! A program that uses a trained surrogate through the Fortran module surge_surrogate (the C
! API of surge::surrogate): the Fortran example of surrogates/README.md, and a consumer the
! tests build against an installed surge.
!   surrogate_fortran MODEL OUT P1 P2 ...                field-from-parameters models: every
!                                                        channel at each of the model's times
!   surrogate_fortran MODEL OUT INITIAL STEPS P1 P2 ...  next-step models: a rollout from INITIAL
! P1 P2 ... are the parameters in the model's order. INITIAL (one state) and OUT (the frames)
! are raw float32 files, [frames, channels, grid...] in C order. Prints the channel names.
program surrogate_fortran
  use, intrinsic :: iso_c_binding
  use surge_surrogate
  implicit none
  type(c_ptr) :: s
  integer(c_int) :: status, kind
  integer(c_int64_t) :: size, frames, steps, k, n_parameters, channels
  real(c_double) :: t
  real(c_double), allocatable :: parameters(:)
  real(c_float), allocatable :: initial(:), out(:)
  character(len=4096) :: model, path, arg
  character(len=:), allocatable :: name
  integer :: first, i, unit, io

  if (command_argument_count() < 2) then
    write (0, '(a)') 'usage: surrogate_fortran MODEL OUT [INITIAL STEPS] P1 P2 ...'
    stop 2, quiet=.true.
  end if
  call get_command_argument(1, model)
  call get_command_argument(2, path)
  ! [readme]
  if (surge_surrogate_load(s, model) /= SURGE_SURROGATE_OK) then
    write (0, '(2a)') 'surrogate_fortran: ', surge_surrogate_last_error()
    stop 1, quiet=.true.
  end if
  status = surge_surrogate_kind(s, kind)
  status = surge_surrogate_output_size(s, size)  ! reals in one state: channels x nx x ny
  ! [readme end]
  first = 3
  steps = 0
  if (kind == SURGE_SURROGATE_NEXT_STEP) then
    first = 5
    call get_command_argument(4, arg)
    read (arg, *, iostat=io) steps
    frames = steps + 1  ! the initial state, then one per step
  else
    status = surge_surrogate_time_count(s, frames)  ! the model's output times
  end if
  n_parameters = max(command_argument_count() - first + 1, 0)  ! in the model's order
  allocate (parameters(max(n_parameters, 1_c_int64_t)), out(max(frames * size, 1_c_int64_t)))
  do i = 1, int(n_parameters)
    call get_command_argument(first + i - 1, arg)
    read (arg, *) parameters(i)
  end do
  if (kind == SURGE_SURROGATE_NEXT_STEP) call read_state(size, initial)
  ! [readme]
  if (kind == SURGE_SURROGATE_NEXT_STEP) then  ! steps + 1 states, the initial one first
    status = surge_surrogate_rollout(s, initial, parameters, n_parameters, steps, out, &
                                     frames * size)
  else  ! one field per output time of the model
    do k = 0, frames - 1
      status = surge_surrogate_time(s, k, t)
      status = surge_surrogate_predict(s, parameters, n_parameters, t, out(k * size + 1:), size)
      if (status /= SURGE_SURROGATE_OK) exit
    end do
  end if
  if (status /= SURGE_SURROGATE_OK) then
    write (0, '(2a)') 'surrogate_fortran: ', surge_surrogate_last_error()
    stop 1, quiet=.true.
  end if
  ! [readme end]
  open (newunit=unit, file=trim(path), access='stream', form='unformatted', status='replace', &
        action='write')
  write (unit) out(1:frames * size)
  close (unit)
  status = surge_surrogate_channel_count(s, channels)
  do k = 0, channels - 1
    status = surge_surrogate_channel_name(s, k, name)
    write (*, '(2a)') 'channel ', name
  end do
  call surge_surrogate_free(s)

contains

  ! One state (INITIAL, the third argument) from a raw float32 file.
  subroutine read_state(n, state)
    integer(c_int64_t), intent(in) :: n
    real(c_float), allocatable, intent(out) :: state(:)
    character(len=4096) :: file
    integer :: unit, io
    call get_command_argument(3, file)
    allocate (state(n))
    open (newunit=unit, file=trim(file), access='stream', form='unformatted', status='old', &
          action='read', iostat=io)
    if (io == 0) read (unit, iostat=io) state
    if (io /= 0) then
      write (0, '(3a)') "surrogate_fortran: cannot read the state from '", trim(file), "'"
      stop 1, quiet=.true.
    end if
    close (unit)
  end subroutine

end program surrogate_fortran
