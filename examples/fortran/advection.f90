! A solver of one's own joining a surge study (solver type external), in Fortran with MPI:
! the physics of examples/c/advection.c. 2D advection-diffusion on the periodic unit square,
!     du/dt + vx du/dx + vy du/dy = kappa (d2u/dx2 + d2u/dy2),  u(x, y, 0) = sin 2pi (x + 2y),
! explicit Euler, first-order upwind advection and central diffusion. u(j, i) is u(x_i, y_j):
! y the fastest, as surge's axes [nx, ny] (axis 0 is x) need. u(ny, nx) is split over the ranks
! along x, each rank holding u(1:ny, 0:m+1) with halo columns 0 and m+1.
!
! Joining the study takes three calls of the module surge_client: surge_init_from_env,
! surge_send per output, surge_finalize. Shapes are in Fortran order there: u(ny, nx) is the
! field of shape [nx, ny] in the experiment file.
!
! usage: example_advection_fortran nx=32 ny=32 outputs=10 output_dt=0.05 vx=0.5 vy=0.5 kappa=0.005
program advection
  use mpi
  use surge_client
  use, intrinsic :: iso_c_binding, only: c_double
  implicit none

  real(c_double), parameter :: pi = 3.14159265358979323846_c_double
  integer :: nx = 32, ny = 32, outputs = 10
  real(c_double) :: output_dt = 0.05_c_double, vx = 0.5_c_double, vy = 0.5_c_double, &
                    kappa = 0.005_c_double
  real(c_double), allocatable :: u(:, :), next(:, :)
  real(c_double) :: dt, rate
  integer :: ierr, rank, nranks, x0, m, below, above, substeps, i, j, k, s
  type(surge_client_t) :: client

  call MPI_Init(ierr)
  call MPI_Comm_rank(MPI_COMM_WORLD, rank, ierr)
  call MPI_Comm_size(MPI_COMM_WORLD, nranks, ierr)
  call parse_arguments()
  if (ny < 2 .or. nx < nranks .or. outputs < 1 .or. output_dt <= 0) then
    if (rank == 0) write (0, '(a)') "example_advection_fortran: error: bad options (nx >= ranks)"
    call MPI_Abort(MPI_COMM_WORLD, 2, ierr)
  end if
  ! This rank's band of columns x0 .. x0 + m - 1 (0-based), with its periodic neighbours.
  x0 = rank*nx/nranks
  m = (rank + 1)*nx/nranks - x0
  below = mod(rank + nranks - 1, nranks)
  above = mod(rank + 1, nranks)
  allocate (u(ny, 0:m + 1), next(ny, 0:m + 1))
  do i = 1, m
    do j = 1, ny
      u(j, i) = sin(2*pi*(real(x0 + i - 1, c_double)/nx + 2*real(j - 1, c_double)/ny))
    end do
  end do
  ! Explicit stability: dt (|vx|/hx + |vy|/hy + 2 kappa (1/hx^2 + 1/hy^2)) <= 1, halved.
  rate = abs(vx)*nx + abs(vy)*ny + 2*kappa*(real(nx, c_double)**2 + real(ny, c_double)**2)
  substeps = ceiling(output_dt*rate/0.5_c_double)
  dt = output_dt/substeps

  ! 1. Join the study: the field u (Fortran shape [ny, nx]), the sampled parameters in the
  !    order of the experiment's solver.parameters.parameters. A failure stops the program
  !    with the client's message (pass status= to handle it yourself).
  call surge_init_from_env(client, rank, nranks, SURGE_FLOAT64, ["u"], [ny, nx], [vx, kappa])
  do k = 0, outputs - 1
    if (k > 0) then
      do s = 1, substeps
        call exchange_halos()
        call step()
        u(:, 1:m) = next(:, 1:m)
      end do
    end if
    ! 2. Send output k (step 0 is the initial state) at t = k * output_dt: this rank's block
    !    u(1:ny, 1:m), contiguous, at offset (0, x0) of the global field.
    call surge_send(client, "u", k, k*output_dt, u(:, 1:m), offset=[0, x0], extent=[ny, m])
  end do
  ! 3. End the stream: without it the study counts the attempt as failed.
  call surge_finalize(client)
  call MPI_Finalize(ierr)

contains

  ! key=value arguments.
  subroutine parse_arguments()
    character(len=256) :: arg
    integer :: a, eq

    do a = 1, command_argument_count()
      call get_command_argument(a, arg)
      eq = index(arg, "=")
      select case (arg(1:max(eq - 1, 0)))
      case ("nx")
        read (arg(eq + 1:), *) nx
      case ("ny")
        read (arg(eq + 1:), *) ny
      case ("outputs")
        read (arg(eq + 1:), *) outputs
      case ("output_dt")
        read (arg(eq + 1:), *) output_dt
      case ("vx")
        read (arg(eq + 1:), *) vx
      case ("vy")
        read (arg(eq + 1:), *) vy
      case ("kappa")
        read (arg(eq + 1:), *) kappa
      case default
        write (0, '(a)') "example_advection_fortran: error: '"//trim(arg)//"' is not a known key=value"
        call MPI_Abort(MPI_COMM_WORLD, 2, ierr)
      end select
    end do
  end subroutine parse_arguments

  ! Periodic halos: column 0 from the rank below, column m + 1 from the rank above.
  subroutine exchange_halos()
    call MPI_Sendrecv(u(:, m), ny, MPI_DOUBLE_PRECISION, above, 0, u(:, 0), ny, &
                      MPI_DOUBLE_PRECISION, below, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE, ierr)
    call MPI_Sendrecv(u(:, 1), ny, MPI_DOUBLE_PRECISION, below, 1, u(:, m + 1), ny, &
                      MPI_DOUBLE_PRECISION, above, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE, ierr)
  end subroutine exchange_halos

  ! One explicit step of columns 1..m of u into next.
  subroutine step()
    real(c_double) :: c, w, e, so, no, adv_x, adv_y, diff, hx, hy
    integer :: ii, jj

    hx = 1.0_c_double/nx
    hy = 1.0_c_double/ny
    do ii = 1, m
      do jj = 1, ny
        c = u(jj, ii)
        w = u(jj, ii - 1)
        e = u(jj, ii + 1)
        so = u(mod(jj + ny - 2, ny) + 1, ii)
        no = u(mod(jj, ny) + 1, ii)
        if (vx > 0) then
          adv_x = vx*(c - w)/hx
        else
          adv_x = vx*(e - c)/hx
        end if
        if (vy > 0) then
          adv_y = vy*(c - so)/hy
        else
          adv_y = vy*(no - c)/hy
        end if
        diff = (w - 2*c + e)/hx**2 + (so - 2*c + no)/hy**2
        next(jj, ii) = c + dt*(kappa*diff - adv_x - adv_y)
      end do
    end do
  end subroutine step

end program advection
